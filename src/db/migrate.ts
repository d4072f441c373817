// Database bootstrap: create the configured database when missing, and run the SQL migrations of
// migrations/ with node-pg-migrate (which serialises concurrent runners with an advisory lock).

import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { pgCode } from '../lib/errors.js';
import type { Logger } from '../log.js';
import { projectPath } from '../paths.js';

export const MIGRATIONS_DIR = projectPath('migrations');
export const MIGRATIONS_TABLE = 'pgmigrations';

export type MigrateDirection = 'up' | 'down';

/** Creates the database named in `databaseUrl` when it does not exist; true when it created it. */
export async function ensureDatabase(databaseUrl: string, log: Logger): Promise<boolean> {
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({
    connectionString: admin.toString(),
    application_name: 'orders-live-bootstrap',
  });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    log.info({ database: name }, 'created database');
    return true;
  } catch (e) {
    if (pgCode(e) === '42P04') return false; // created concurrently by another process
    throw e;
  } finally {
    await client.end();
  }
}

export interface MigrateOptions {
  direction: MigrateDirection;
  /** How many migrations to run; all pending (up) or one (down) by default. */
  count?: number;
  log: Logger;
}

/** Runs migrations; returns the names of those that ran. */
export async function migrate(
  databaseUrl: string,
  { direction, count, log }: MigrateOptions,
): Promise<string[]> {
  const ran = await runner({
    databaseUrl: { connectionString: databaseUrl, application_name: 'orders-live-migrate' },
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction,
    count: count ?? (direction === 'up' ? Number.POSITIVE_INFINITY : 1),
    checkOrder: true,
    singleTransaction: true,
    log: () => undefined,
    logger: {
      debug: () => undefined,
      info: (msg: string) => log.debug({ migrate: msg.trim() }, 'migration'),
      warn: (msg: string) => log.warn({ migrate: msg.trim() }, 'migration'),
      error: (msg: string) => log.error({ migrate: msg.trim() }, 'migration'),
    },
  });
  const names = ran.map((m) => m.name);
  if (names.length > 0) log.info({ direction, migrations: names }, 'migrations applied');
  return names;
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

/** Which migrations are applied and which are pending (a dry run of `up`). */
export async function migrationStatus(databaseUrl: string, log: Logger): Promise<MigrationStatus> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'orders-live-migrate' });
  await client.connect();
  let applied: string[] = [];
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT name FROM ${pg.escapeIdentifier(MIGRATIONS_TABLE)} ORDER BY run_on, id`,
    );
    applied = rows.map((r) => r.name);
  } catch (e) {
    if (pgCode(e) !== '42P01') throw e; // no migrations table yet: nothing applied
  } finally {
    await client.end();
  }
  const pending = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    count: Number.POSITIVE_INFINITY,
    dryRun: true,
    log: () => undefined,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (m: string) => log.warn(m),
      error: (m: string) => log.error(m),
    },
  });
  return { applied, pending: pending.map((m) => m.name) };
}
