// Configuration: the only reader of the environment. `.env` is read when present (the real
// environment wins); every bad value is collected and reported at once by `ConfigError`.

import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseEnv } from 'node:util';
import { EXCHANGE } from './contract/constants.js';

export type Role = 'api' | 'bridge' | 'gateway';
export const ROLES: readonly Role[] = ['api', 'bridge', 'gateway'];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

export interface Config {
  /** PostgreSQL connection string; from DATABASE_URL, else built from DB_HOST … DB_NAME. */
  readonly databaseUrl: string;
  /**
   * The broker's nodes, from RABBITMQ_URL (comma-separated): every role connects to one and moves
   * to the next when its connection drops or cannot be made.
   */
  readonly rabbitmqUrls: readonly string[];
  /** HTTP port of the api/gateway roles (0 picks a free one). */
  readonly port: number;
  /** Interface to listen on. */
  readonly host: string;
  /** Roles this process runs. */
  readonly roles: readonly Role[];
  readonly logLevel: LogLevel;
  /** JSON lines, readable lines, or readable on a terminal and JSON otherwise. */
  readonly logFormat: (typeof LOG_FORMATS)[number];
  /** Apply pending migrations at start. */
  readonly migrateOnStart: boolean;
  /** Create the database when it does not exist. */
  readonly createDatabase: boolean;
  /**
   * Named bearer tokens (API_TOKENS), read-write or read-only; when any is set, every route that
   * returns or changes data, and the socket, needs one. Never logged.
   */
  readonly apiTokens: readonly ApiToken[];
  /** Explicit opt-out of the refusal to listen beyond loopback without tokens. */
  readonly allowUnauthenticated: boolean;
  /**
   * Host names served besides loopback ones (ALLOWED_HOSTS); a leading dot takes subdomains too.
   * Empty: without tokens only loopback names are served, with tokens any name.
   */
  readonly allowedHosts: readonly string[];
  /** Browser origins besides the server's own that may open a socket or call the API (CORS). */
  readonly allowedOrigins: readonly string[];
  /** Requests one client (token, else IP address) may make to the REST API per window; null: no limit. */
  readonly rateLimit: RateLimit | null;
  /** A loopback-only listener serving /metrics (METRICS_PORT); null: /metrics on the main port. */
  readonly metricsPort: number | null;
  /** Express's "trust proxy" (TRUST_PROXY): which proxies' X-Forwarded-For names the client. */
  readonly trustProxy: number | readonly string[] | false;
  /** Largest request body the API accepts, in bytes (BODY_LIMIT, e.g. "100kb"). */
  readonly bodyLimitBytes: number;
  /** The topic exchange events go to; its dead-letter names derive from it. */
  readonly amqpExchange: string;
  readonly bridge: BridgeConfig;
  readonly gateway: GatewayConfig;
}

export interface GatewayConfig {
  /** Unacked deliveries in flight from RabbitMQ to one gateway. */
  readonly prefetch: number;
  /** Unsent bytes (engine.io and websocket buffers) after which a client is disconnected (it can resume). */
  readonly maxBufferedBytes: number;
}

export interface BridgeConfig {
  /** Most events numbered and published per round trip. */
  readonly batchSize: number;
  /** How long a batch waits for more events before it is published (0: never waits). */
  readonly lingerMs: number;
  /** The slow poll that bounds how long a missed notification can delay an event. */
  readonly pollIntervalMs: number;
  /**
   * At this many events/s or more the leader holds the doorbell's lease (writers skip NOTIFY, it
   * polls); below, writers ring and wake it at once. 0: hold it whenever there is work.
   */
  readonly leaseAbovePerSecond: number;
  /**
   * Events a second the per-event exchange takes while the gateways' feed publishes; it catches up
   * at full speed once the feed is idle. 0: no limit.
   */
  readonly eventsRateWhileBusy: number;
  /** How often a standby tries to take the leader lock. */
  readonly leaderRetryMs: number;
  /** Published events older than this are deleted by the leader. */
  readonly retentionMs: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Every default in one place; these work against local services with no `.env` at all. */
export const DEFAULTS = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/orders_live',
  DB_HOST: '127.0.0.1',
  DB_PORT: '5432',
  DB_USER: 'postgres',
  DB_NAME: 'orders_live',
  RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
  PORT: '3000',
  HOST: '127.0.0.1',
  ROLES: 'api,bridge,gateway',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'auto',
  MIGRATE_ON_START: 'true',
  CREATE_DATABASE: 'true',
  API_TOKENS: '',
  ALLOW_UNAUTHENTICATED: 'false',
  ALLOWED_HOSTS: '',
  ALLOWED_ORIGINS: '',
  // 10,000 per 10 s: 1,000 requests a second per client, twice what the fault matrix's writers
  // send through one address (500/s); a client looping on GET /orders?limit=1000 is held to it.
  RATE_LIMIT: '10000/10s',
  METRICS_PORT: '',
  TRUST_PROXY: 'false',
  BODY_LIMIT: '100kb',
  AMQP_EXCHANGE: EXCHANGE,
  // 500 events per batch (one feed message, ~225 KB): 2,000 was not better in a quick throughput
  // run (BENCHMARKS.md); a numbering statement makes as many batches as what committed needs.
  BRIDGE_BATCH_SIZE: '500',
  BRIDGE_LINGER_MS: '0',
  BRIDGE_POLL_MS: '1000',
  // At 1,000/s the lease cost no measurable latency (interleaved e2e-latency: p50 6.40 ms leased
  // against 6.66 ringing) and spares the writers their NOTIFY; at 100/s ringing is ~1 ms faster.
  BRIDGE_LEASE_ABOVE: '300',
  // 2,000 a second keeps integrations in step under a moderate load; above it they catch up once
  // the feed is idle (unbounded, a sustained 10,000/s left the dashboards seconds behind).
  BRIDGE_EVENTS_RATE: '2000',
  LEADER_RETRY_MS: '1000',
  EVENT_RETENTION: '7d',
  // Batches from the feed, each up to BRIDGE_BATCH_SIZE events: 50 lets 25,000 events wait
  // unacked, two relay steps' worth at 20,000 events/s even at the smallest batches seen under load.
  GATEWAY_PREFETCH: '50',
  // 4 MiB: ~10,000 events, half a second of a 20,000 events/s stream; 20 clients that stop reading
  // cost at most ~80 MiB. A replaying client holds one packet (~250 KB) at a time, far below it.
  GATEWAY_MAX_BUFFERED_BYTES: '4mb',
} as const;

/** Variables an earlier version read, and what replaced them: set, they are an error, not ignored. */
const RENAMED: Readonly<Record<string, string>> = {
  GATEWAY_MAX_BUFFERED:
    'GATEWAY_MAX_BUFFERED_BYTES (a size such as 4mb; it counted packets, it now counts bytes)',
};

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The process environment merged over `.env` (when the file exists). */
export function readEnvironment(envFile = '.env'): Env {
  const fromFile = existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

export function loadConfig(env: Env, overrides: Partial<Pick<Config, 'roles' | 'port'>> = {}): Config {
  const problems: string[] = [];
  const read = (name: keyof typeof DEFAULTS): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? DEFAULTS[name] : value;
  };

  const config: Config = {
    databaseUrl: databaseUrl(env, read, problems),
    rabbitmqUrls: urlList('RABBITMQ_URL', read('RABBITMQ_URL'), ['amqp:', 'amqps:'], problems),
    port: overrides.port ?? integer('PORT', read('PORT'), 0, 65_535, problems),
    host: read('HOST'),
    roles: overrides.roles ?? roles('ROLES', read('ROLES'), problems),
    logLevel: oneOf('LOG_LEVEL', read('LOG_LEVEL'), LOG_LEVELS, problems),
    logFormat: oneOf('LOG_FORMAT', read('LOG_FORMAT'), LOG_FORMATS, problems),
    migrateOnStart: boolean('MIGRATE_ON_START', read('MIGRATE_ON_START'), problems),
    createDatabase: boolean('CREATE_DATABASE', read('CREATE_DATABASE'), problems),
    apiTokens: apiTokens('API_TOKENS', read('API_TOKENS'), problems),
    allowUnauthenticated: boolean('ALLOW_UNAUTHENTICATED', read('ALLOW_UNAUTHENTICATED'), problems),
    allowedHosts: list('ALLOWED_HOSTS', read('ALLOWED_HOSTS'), allowedHost, problems),
    allowedOrigins: list('ALLOWED_ORIGINS', read('ALLOWED_ORIGINS'), allowedOrigin, problems),
    rateLimit: rateLimit('RATE_LIMIT', read('RATE_LIMIT'), problems),
    metricsPort: optionalPort('METRICS_PORT', read('METRICS_PORT'), problems),
    trustProxy: trustProxy('TRUST_PROXY', read('TRUST_PROXY'), problems),
    bodyLimitBytes: byteSize('BODY_LIMIT', read('BODY_LIMIT'), problems),
    amqpExchange: amqpName('AMQP_EXCHANGE', read('AMQP_EXCHANGE'), problems),
    bridge: {
      batchSize: integer('BRIDGE_BATCH_SIZE', read('BRIDGE_BATCH_SIZE'), 1, 10_000, problems),
      lingerMs: integer('BRIDGE_LINGER_MS', read('BRIDGE_LINGER_MS'), 0, 1_000, problems),
      pollIntervalMs: integer('BRIDGE_POLL_MS', read('BRIDGE_POLL_MS'), 10, 60_000, problems),
      leaseAbovePerSecond: integer('BRIDGE_LEASE_ABOVE', read('BRIDGE_LEASE_ABOVE'), 0, 1_000_000, problems),
      eventsRateWhileBusy: integer('BRIDGE_EVENTS_RATE', read('BRIDGE_EVENTS_RATE'), 0, 1_000_000, problems),
      leaderRetryMs: integer('LEADER_RETRY_MS', read('LEADER_RETRY_MS'), 50, 60_000, problems),
      retentionMs: duration('EVENT_RETENTION', read('EVENT_RETENTION'), problems),
    },
    gateway: {
      prefetch: integer('GATEWAY_PREFETCH', read('GATEWAY_PREFETCH'), 1, 65_535, problems),
      maxBufferedBytes: byteSize('GATEWAY_MAX_BUFFERED_BYTES', read('GATEWAY_MAX_BUFFERED_BYTES'), problems),
    },
  };
  if (config.metricsPort !== null && config.metricsPort !== 0 && config.metricsPort === config.port)
    problems.push(
      `METRICS_PORT must differ from PORT (${config.port}); leave it empty to serve /metrics there`,
    );
  for (const [name, replacement] of Object.entries(RENAMED))
    if (env[name] !== undefined) problems.push(`${name} is no longer read: use ${replacement}`);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    ...config,
    rateLimit: config.rateLimit && Object.freeze(config.rateLimit),
    bridge: Object.freeze(config.bridge),
    gateway: Object.freeze(config.gateway),
  });
}

/** A URL with its password replaced, for messages and logs. */
export function redactUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Parses a role list such as "api,bridge"; exported for the CLI's --role. */
export function parseRoles(raw: string): { roles: Role[]; problem?: string } {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !ROLES.includes(n as Role));
  if (names.length === 0 || unknown.length > 0) {
    return { roles: [], problem: `must list roles from ${ROLES.join(', ')}; got "${raw}"` };
  }
  return { roles: [...new Set(names as Role[])] };
}

function databaseUrl(env: Env, read: (name: keyof typeof DEFAULTS) => string, problems: string[]): string {
  const explicit = env.DATABASE_URL?.trim();
  const parts = ['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD', 'DB_NAME'] as const;
  if (!explicit && parts.some((p) => env[p]?.trim())) {
    const port = integer('DB_PORT', read('DB_PORT'), 1, 65_535, problems);
    const built = new URL('postgres://localhost');
    built.hostname = read('DB_HOST');
    built.port = String(port);
    built.username = read('DB_USER');
    built.password = env.DB_PASSWORD ?? '';
    built.pathname = `/${encodeURIComponent(read('DB_NAME'))}`;
    return built.toString();
  }
  const value = url(
    'DATABASE_URL',
    explicit || DEFAULTS.DATABASE_URL,
    ['postgres:', 'postgresql:'],
    problems,
  );
  try {
    if (new URL(value).pathname.replace(/^\//, '') === '') {
      problems.push(`DATABASE_URL must name a database, e.g. ${DEFAULTS.DATABASE_URL}`);
    }
  } catch {
    // already reported by url()
  }
  return value;
}

function url(name: string, value: string, protocols: string[], problems: string[]): string {
  try {
    const parsed = new URL(value);
    if (!protocols.includes(parsed.protocol)) {
      problems.push(
        `${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}; got ${redactUrl(value)}`,
      );
    }
  } catch {
    problems.push(`${name} is not a URL (expected e.g. ${protocols[0]}//host:port/…)`);
  }
  return value;
}

/** One URL, or several separated by commas (each checked as `url` does). */
function urlList(name: string, value: string, protocols: string[], problems: string[]): readonly string[] {
  const urls = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const before = problems.length;
  for (const [i, raw] of urls.entries())
    url(urls.length > 1 ? `${name} (URL ${i + 1})` : name, raw, protocols, problems);
  if (urls.length === 0 && problems.length === before) problems.push(`${name} names no URL`);
  return Object.freeze(urls);
}

function integer(name: string, value: string, min: number, max: number, problems: string[]): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max}; got "${value}"`);
    return min;
  }
  return n;
}

function boolean(name: string, value: string, problems: string[]): boolean {
  const v = value.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  problems.push(`${name} must be true or false; got "${value}"`);
  return false;
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[], problems: string[]): T {
  if (allowed.includes(value as T)) return value as T;
  problems.push(`${name} must be one of ${allowed.join(', ')}; got "${value}"`);
  return allowed[0]!;
}

const DURATION_UNITS_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "7d", "12h", "30m", "45s". */
function duration(name: string, value: string, problems: string[]): number {
  const match = /^(\d+)\s*([smhd])$/.exec(value);
  if (!match || Number(match[1]) === 0) {
    problems.push(`${name} must be a positive duration such as 7d, 12h, 30m or 45s; got "${value}"`);
    return DURATION_UNITS_MS.d;
  }
  return Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS];
}

function amqpName(name: string, value: string, problems: string[]): string {
  if (!/^[\w.:-]{1,200}$/.test(value)) {
    problems.push(`${name} must be 1–200 letters, digits, '.', '_', ':' or '-'; got "${value}"`);
  }
  return value;
}

function roles(name: string, value: string, problems: string[]): Role[] {
  const parsed = parseRoles(value);
  if (parsed.problem) problems.push(`${name} ${parsed.problem}`);
  return parsed.roles;
}

/** What a token may do: read (REST reads, GET /events, the socket, /metrics) or also write. */
export type Access = 'read' | 'write';
export const ACCESS_LEVELS: readonly Access[] = ['read', 'write'];

/** A named bearer token of API_TOKENS; writes made with it are recorded as actor `api/<name>`. */
export interface ApiToken {
  readonly name: string;
  /** The secret itself: compared, never logged nor echoed in a message. */
  readonly token: string;
  readonly access: Access;
}

/** 16 characters of a random token are ≥ 80 bits: hopeless to guess over HTTP. */
export const MIN_TOKEN_LENGTH = 16;
const TOKEN_NAME = /^[\w.-]{1,64}$/;

/** "name:token,name2:token2:read". Problems name entries by position and name, never by token. */
function apiTokens(name: string, value: string, problems: string[]): readonly ApiToken[] {
  const tokens: ApiToken[] = [];
  if (value.trim() === '') return Object.freeze(tokens);
  value.split(',').forEach((entry, i) => {
    const parsed = apiToken(entry.trim(), tokens);
    if (typeof parsed === 'string') problems.push(`${name} entry ${i + 1} ${parsed}`);
    else tokens.push(Object.freeze(parsed));
  });
  return Object.freeze(tokens);
}

/** One "name:token" or "name:token:read|write" entry, or what is wrong with it. */
function apiToken(entry: string, seen: readonly ApiToken[]): ApiToken | string {
  const parts = entry.split(':').map((p) => p.trim());
  if (parts.length < 2) return 'must be name:token or name:token:read (entries are separated by commas)';
  const [name = '', token = '', access = 'write'] = parts;
  if (!TOKEN_NAME.test(name)) return "needs a name of 1–64 letters, digits, '.', '_' or '-' before the ':'";
  if (parts.length > 3 || !ACCESS_LEVELS.includes(access as Access)) {
    return (
      `("${name}") must end in :read or :write after the token, or nothing (read-write); ` +
      "a token cannot contain ':'"
    );
  }
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    return (
      `("${name}") needs a token of at least ${MIN_TOKEN_LENGTH} characters without spaces; ` +
      `it has ${token.length} (generate one with: openssl rand -hex 24)`
    );
  }
  if (seen.some((t) => t.name === name)) return `("${name}") repeats a name; names must be unique`;
  if (seen.some((t) => t.token === token)) return `("${name}") reuses the token of another entry`;
  return { name, token, access: access as Access };
}

/** A comma-separated list whose entries are each checked (and normalized) by `entry`. */
function list(
  name: string,
  value: string,
  entry: (raw: string) => { value: string } | { problem: string },
  problems: string[],
): readonly string[] {
  const values: string[] = [];
  for (const raw of value.split(',').map((s) => s.trim())) {
    if (raw === '') continue;
    const parsed = entry(raw);
    if ('problem' in parsed) problems.push(`${name}: "${raw}" ${parsed.problem}`);
    else if (!values.includes(parsed.value)) values.push(parsed.value);
  }
  return Object.freeze(values);
}

/** A host name (example.com), a domain with its subdomains (.example.com), or an IP address. */
function allowedHost(raw: string): { value: string } | { problem: string } {
  const host = raw.toLowerCase();
  const name = /^\.?(?:[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?\.)*[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?$/;
  if (name.test(host) || isIP(host) === 4 || isIP(host.replace(/^\[(.*)\]$/, '$1')) === 6)
    return { value: host.replace(/^\[(.*)\]$/, '$1') };
  return { problem: 'is not a host name (no scheme, port or path; a leading dot takes subdomains)' };
}

/** A browser origin: scheme://host[:port], nothing after it; stored as the browser sends it. */
function allowedOrigin(raw: string): { value: string } | { problem: string } {
  try {
    const url = new URL(raw);
    const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
    if ((url.protocol === 'http:' || url.protocol === 'https:') && bare) return { value: url.origin };
  } catch {
    // reported below
  }
  return { problem: 'is not an origin such as https://dashboard.example.com or http://localhost:5173' };
}

export interface RateLimit {
  /** Requests allowed per window. */
  readonly limit: number;
  readonly windowMs: number;
}

/** "10000/10s", "600/1m", or "off". */
function rateLimit(name: string, value: string, problems: string[]): RateLimit | null {
  if (value.toLowerCase() === 'off') return null;
  const match = /^(\d{1,9})\s*\/\s*(\d*)\s*([smh])$/.exec(value);
  const limit = Number(match?.[1]);
  const windowMs = Number(match?.[2] || 1) * (DURATION_UNITS_MS[match?.[3] as 's'] ?? Number.NaN);
  if (!match || limit < 1 || !(windowMs >= 1_000 && windowMs <= 3_600_000)) {
    problems.push(
      `${name} must be requests per window such as 10000/10s, 600/1m or 100/s (window 1s–1h), or off; got "${value}"`,
    );
    return null;
  }
  return { limit, windowMs };
}

function optionalPort(name: string, value: string, problems: string[]): number | null {
  return value === '' ? null : integer(name, value, 0, 65_535, problems);
}

const TRUST_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal'];

/** false, a number of proxy hops, or addresses, subnets and Express's keywords. */
function trustProxy(name: string, value: string, problems: string[]): number | readonly string[] | false {
  const v = value.toLowerCase();
  if (['false', 'off', 'no', '0'].includes(v)) return false;
  if (/^\d{1,2}$/.test(v)) return Number(v);
  const entries = v.split(',').map((s) => s.trim());
  const bad = entries.filter((e) => !TRUST_KEYWORDS.includes(e) && isIP(e.replace(/\/\d{1,3}$/, '')) === 0);
  if (bad.length === 0) return Object.freeze(entries);
  problems.push(
    `${name} must be false, a number of proxy hops, or addresses/subnets and ${TRUST_KEYWORDS.join(', ')} ` +
      `(comma-separated); "${bad.join('", "')}" is none of them`,
  );
  return false;
}

const BYTE_UNITS = { b: 1, kb: 1024, mb: 1024 ** 2 } as const;
const MAX_BODY_BYTES = 100 * 1024 ** 2;

/** "100kb", "1mb", "512b" or a plain number of bytes (units of 1024, like body-parser). */
function byteSize(name: string, value: string, problems: string[]): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb)?$/i.exec(value);
  const bytes = match
    ? Math.floor(Number(match[1]) * BYTE_UNITS[(match[2]?.toLowerCase() ?? 'b') as keyof typeof BYTE_UNITS])
    : Number.NaN;
  if (!(bytes >= 1 && bytes <= MAX_BODY_BYTES)) {
    problems.push(`${name} must be a size from 1b to 100mb such as 100kb or 1mb; got "${value}"`);
    return 100 * 1024;
  }
  return bytes;
}
