// Configuration: the only reader of the environment. `.env` is read when present (the real
// environment wins); every bad value is collected and reported at once by `ConfigError`.

import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { type ApiToken, parseApiTokens } from './api/auth.js';
import { parseAllowedHost, parseAllowedOrigin } from './api/origin-policy.js';
import { EXCHANGE } from './contract/constants.js';
import * as ev from './lib/env-values.js';

export type { Access, ApiToken } from './api/auth.js';
export type { RateLimit } from './lib/env-values.js';

export type Role = 'api' | 'bridge' | 'gateway';
export const ROLES: readonly Role[] = ['api', 'bridge', 'gateway'];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

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
  // Twice what the fault matrix's writers send through one address.
  RATE_LIMIT: '10000/10s',
  METRICS_PORT: '',
  TRUST_PROXY: 'false',
  BODY_LIMIT: '100kb',
  AMQP_EXCHANGE: EXCHANGE,
  // One feed message of ~225 KB; larger was not faster (BENCHMARKS.md).
  BRIDGE_BATCH_SIZE: '500',
  BRIDGE_LINGER_MS: '0',
  BRIDGE_POLL_MS: '1000',
  // Above it the lease spares the writers their NOTIFY at no latency cost (BENCHMARKS.md).
  BRIDGE_LEASE_ABOVE: '300',
  // Integrations in step under a moderate load, catching up once the feed is idle.
  BRIDGE_EVENTS_RATE: '2000',
  LEADER_RETRY_MS: '1000',
  EVENT_RETENTION: '7d',
  // Feed batches: up to 25,000 events unacked.
  GATEWAY_PREFETCH: '50',
  // ~10,000 events: half a second at 20,000 events/s; 20 stalled clients cost ~80 MiB.
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

const roles = ev.check((v) => {
  const parsed = parseRoles(v);
  return parsed.problem ? ev.bad(parsed.problem) : ev.ok(parsed.roles as readonly Role[]);
});

const apiTokens = z.string().transform((value, ctx): readonly ApiToken[] => {
  const { tokens, problems } = parseApiTokens(value);
  for (const message of problems) ctx.addIssue({ code: 'custom', message });
  return tokens;
});

type Group = Record<string, readonly [keyof typeof DEFAULTS, z.ZodType<unknown, string>]>;
type Parsed<G extends Group> = { readonly [K in keyof G]: z.output<G[K][1]> };

/** Each group: config field → [variable, schema], in the order problems are reported. */
const SERVER = {
  /** The broker's nodes: every role connects to one, and to the next when its link drops. */
  rabbitmqUrls: ['RABBITMQ_URL', ev.urlList(['amqp:', 'amqps:'])],
  /** HTTP port of the api/gateway roles (0 picks a free one), and the interface to listen on. */
  port: ['PORT', ev.integer(0, 65_535)],
  host: ['HOST', z.string()],
  roles: ['ROLES', roles],
  logLevel: ['LOG_LEVEL', ev.oneOf(LOG_LEVELS)],
  /** JSON lines, readable lines, or readable on a terminal and JSON otherwise. */
  logFormat: ['LOG_FORMAT', ev.oneOf(LOG_FORMATS)],
  migrateOnStart: ['MIGRATE_ON_START', ev.boolean],
  createDatabase: ['CREATE_DATABASE', ev.boolean],
} as const satisfies Group;
const ACCESS = {
  /** Named bearer tokens; when any is set, every route with data, and the socket, needs one. */
  apiTokens: ['API_TOKENS', apiTokens],
  /** The explicit opt-out of the refusal to listen beyond loopback without tokens. */
  allowUnauthenticated: ['ALLOW_UNAUTHENTICATED', ev.boolean],
  /** Host names served besides loopback ones; a leading dot takes subdomains too. */
  allowedHosts: ['ALLOWED_HOSTS', ev.list(parseAllowedHost)],
  /** Browser origins besides the server's own that may open a socket or call the API (CORS). */
  allowedOrigins: ['ALLOWED_ORIGINS', ev.list(parseAllowedOrigin)],
  /** Requests one client (token, else address) may make per window; null: no limit. */
  rateLimit: ['RATE_LIMIT', ev.rateLimit],
  /** A loopback-only listener for /metrics; null: /metrics on the main port. */
  metricsPort: ['METRICS_PORT', ev.optionalPort],
  /** Express's "trust proxy": which proxies' X-Forwarded-For names the client. */
  trustProxy: ['TRUST_PROXY', ev.trustProxy],
  bodyLimitBytes: ['BODY_LIMIT', ev.byteSize],
  /** The topic exchange; the feed's and the dead letters' names derive from it. */
  amqpExchange: ['AMQP_EXCHANGE', ev.amqpName],
} as const satisfies Group;
const BRIDGE = {
  /** Most events in one batch (one feed message). */
  batchSize: ['BRIDGE_BATCH_SIZE', ev.integer(1, 10_000)],
  /** How long a batch waits for more events (0: never). */
  lingerMs: ['BRIDGE_LINGER_MS', ev.integer(0, 1_000)],
  /** The slow poll that bounds how long a missed notification can delay an event. */
  pollIntervalMs: ['BRIDGE_POLL_MS', ev.integer(10, 60_000)],
  /** From this many events/s the leader holds the doorbell's lease and polls; below, writers ring. */
  leaseAbovePerSecond: ['BRIDGE_LEASE_ABOVE', ev.integer(0, 1_000_000)],
  /** What the per-event exchange takes while the feed publishes (0: no limit). */
  eventsRateWhileBusy: ['BRIDGE_EVENTS_RATE', ev.integer(0, 1_000_000)],
  /** How often a standby tries to take the leader lock. */
  leaderRetryMs: ['LEADER_RETRY_MS', ev.integer(50, 60_000)],
  /** Published events older than this are deleted by the leader. */
  retentionMs: ['EVENT_RETENTION', ev.duration],
} as const satisfies Group;
const GATEWAY = {
  /** Unacked feed messages in flight from RabbitMQ to one gateway. */
  prefetch: ['GATEWAY_PREFETCH', ev.integer(1, 65_535)],
  /** Unsent bytes after which a live client is disconnected (it resumes). */
  maxBufferedBytes: ['GATEWAY_MAX_BUFFERED_BYTES', ev.byteSize],
} as const satisfies Group;

export type BridgeConfig = Parsed<typeof BRIDGE>;
export type GatewayConfig = Parsed<typeof GATEWAY>;
export type Config = Parsed<typeof SERVER> &
  Parsed<typeof ACCESS> & {
    /** From DATABASE_URL, else built from DB_HOST … DB_NAME. */
    readonly databaseUrl: string;
    readonly bridge: BridgeConfig;
    readonly gateway: GatewayConfig;
  };

export function loadConfig(env: Env, overrides: Partial<Pick<Config, 'roles' | 'port'>> = {}): Config {
  const problems: string[] = [];
  const read = (name: keyof typeof DEFAULTS): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? DEFAULTS[name] : value;
  };
  /**
   * The group's fields, or undefined with its problems ("NAME message") added. A field in `given`
   * (a command-line flag) takes its value as is: the variable it replaces is not read.
   */
  function parse<G extends Group>(group: G, given: Partial<Parsed<G>> = {}): Parsed<G> | undefined {
    const out: Record<string, unknown> = {};
    let fine = true;
    for (const [field, [name, schema]] of Object.entries(group)) {
      const flag = (given as Record<string, unknown>)[field];
      if (flag !== undefined) {
        out[field] = flag;
        continue;
      }
      const result = schema.safeParse(read(name));
      if (result.success) out[field] = result.data;
      else {
        fine = false;
        for (const { message } of result.error.issues)
          problems.push(`${name}${message.startsWith(':') ? '' : ' '}${message}`);
      }
    }
    return fine ? (Object.freeze(out) as Parsed<G>) : undefined;
  }
  const databaseUrl = readDatabaseUrl(env, read, problems);
  const server = parse(SERVER, overrides);
  const access = parse(ACCESS);
  const bridge = parse(BRIDGE);
  const gateway = parse(GATEWAY);
  const port = overrides.port ?? server?.port;
  if (access?.metricsPort && access.metricsPort === port)
    problems.push(`METRICS_PORT must differ from PORT (${port}); leave it empty to serve /metrics there`);
  for (const [name, replacement] of Object.entries(RENAMED))
    if (env[name] !== undefined) problems.push(`${name} is no longer read: use ${replacement}`);
  if (problems.length > 0 || !server || !access || !bridge || !gateway) throw new ConfigError(problems);
  return Object.freeze({ databaseUrl, ...server, ...access, bridge, gateway });
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

/** DATABASE_URL, or one built from DB_HOST … DB_NAME when only those are set. */
function readDatabaseUrl(
  env: Env,
  read: (name: keyof typeof DEFAULTS) => string,
  problems: string[],
): string {
  const explicit = env.DATABASE_URL?.trim();
  const parts = ['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD', 'DB_NAME'] as const;
  if (!explicit && parts.some((p) => env[p]?.trim())) {
    const port = ev.integer(1, 65_535).safeParse(read('DB_PORT'));
    if (!port.success) problems.push(`DB_PORT ${port.error.issues[0]!.message}`);
    const built = new URL('postgres://localhost');
    built.hostname = read('DB_HOST');
    built.port = String(port.data ?? 5432);
    built.username = read('DB_USER');
    built.password = env.DB_PASSWORD ?? '';
    built.pathname = `/${encodeURIComponent(read('DB_NAME'))}`;
    return built.toString();
  }
  const value = explicit || DEFAULTS.DATABASE_URL;
  const problem = ev.urlProblem(value, ['postgres:', 'postgresql:']);
  if (problem) problems.push(`DATABASE_URL ${problem}`);
  else if (new URL(value).pathname.replace(/^\//, '') === '')
    problems.push(`DATABASE_URL must name a database, e.g. ${DEFAULTS.DATABASE_URL}`);
  return value;
}
