// Configuration: the only reader of the environment. `.env` is read when present (the real
// environment wins); every bad value is collected and reported at once by `ConfigError`.

import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

export type Role = 'api' | 'bridge' | 'gateway';
export const ROLES: readonly Role[] = ['api', 'bridge', 'gateway'];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  /** PostgreSQL connection string; from DATABASE_URL, else built from DB_HOST … DB_NAME. */
  readonly databaseUrl: string;
  /** AMQP connection string. */
  readonly rabbitmqUrl: string;
  /** HTTP port of the api/gateway roles (0 picks a free one). */
  readonly port: number;
  /** Interface to listen on. */
  readonly host: string;
  /** Roles this process runs. */
  readonly roles: readonly Role[];
  readonly logLevel: LogLevel;
  /** Apply pending migrations at start. */
  readonly migrateOnStart: boolean;
  /** Create the database when it does not exist. */
  readonly createDatabase: boolean;
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
  MIGRATE_ON_START: 'true',
  CREATE_DATABASE: 'true',
} as const;

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
    rabbitmqUrl: url('RABBITMQ_URL', read('RABBITMQ_URL'), ['amqp:', 'amqps:'], problems),
    port: overrides.port ?? integer('PORT', read('PORT'), 0, 65_535, problems),
    host: read('HOST'),
    roles: overrides.roles ?? roles('ROLES', read('ROLES'), problems),
    logLevel: oneOf('LOG_LEVEL', read('LOG_LEVEL'), LOG_LEVELS, problems),
    migrateOnStart: boolean('MIGRATE_ON_START', read('MIGRATE_ON_START'), problems),
    createDatabase: boolean('CREATE_DATABASE', read('CREATE_DATABASE'), problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
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

function roles(name: string, value: string, problems: string[]): Role[] {
  const parsed = parseRoles(value);
  if (parsed.problem) problems.push(`${name} ${parsed.problem}`);
  return parsed.roles;
}
