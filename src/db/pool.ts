// PostgreSQL pools. Every pool and every client it makes get an `error` listener: a client that
// dies (server restart, pg_terminate_backend), idle or in use, is logged and replaced, never an
// uncaught exception.

import pg from 'pg';
import type { Logger } from '../log.js';

export interface PoolOptions {
  /** Shown in pg_stat_activity and recorded as the actor of SQL writes. */
  applicationName: string;
  /** @default 10 */
  max?: number;
  log: Logger;
}

export function createPool(
  connectionString: string,
  { applicationName, max = 10, log }: PoolOptions,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    application_name: applicationName,
    max,
    // A dead server must not hang a request forever; 5 s is well above a healthy connect (~3 ms).
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // Every statement orders-live runs is short and led by an index, but on a change log of a
    // million events the planner's estimates pass jit_above_cost, and PostgreSQL then compiles
    // the statement at every run: the bridge's numbering and the read of its batch took 22–30 ms
    // instead of 0.75–0.92 ms (side test, 948,000 events; BENCHMARKS.md).
    options: '-c jit=off',
  });
  pool.on('error', (err) =>
    log.warn({ err, applicationName }, 'idle PostgreSQL client failed; it is replaced'),
  );
  // The pool listens only while a client is idle. A client checked out for a transaction whose
  // backend is terminated between two queries emits 'error' too; unheard, that would crash the
  // process. Heard, the next query fails, and the pool drops the client on release.
  pool.on('connect', (client) => {
    client.on('error', (err) => log.warn({ err, applicationName }, 'PostgreSQL client in use failed'));
  });
  return pool;
}

/** Runs `fn` in a transaction on one client; rolls back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
