// A database of one's own for a test file: cloned from the migrated template (which also isolates
// NOTIFY channels), dropped afterwards. Pools made through it are tracked: the file fails when
// one is left open, or when any connection to the database outlives the tests.

import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { ADMIN_URL, databaseUrl, randomSuffix, TEST_DB_PREFIX } from './names.js';
import { waitFor } from './wait.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A pool on the database, tracked for leaks; end it in the test. */
  pool(options?: pg.PoolConfig): pg.Pool;
  /** A connected client, tracked for leaks; end it in the test. */
  client(options?: pg.ClientConfig): Promise<pg.Client>;
}

/** Creates a database for this file before its tests and checks for leaks and drops it after. */
export function useTestDatabase(options: { empty?: boolean } = {}): TestDatabase {
  const name = `${TEST_DB_PREFIX}${templatePid()}_${randomSuffix()}`;
  const url = databaseUrl(name);
  const pools: pg.Pool[] = [];
  const clients: { client: pg.Client; ended: boolean }[] = [];

  beforeAll(async () => {
    await admin(async (c) => {
      const template = options.empty ? 'template1' : inject('templateDatabase');
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
    });
  });

  afterAll(async () => {
    const leaks: string[] = [];
    for (const pool of pools) {
      if (!pool.ended) {
        leaks.push(`a pool (${pool.totalCount} clients)`);
        await pool.end();
      }
    }
    for (const entry of clients) {
      if (!entry.ended) {
        leaks.push('a client');
        await entry.client.end();
      }
    }
    try {
      // Connections close asynchronously after end(); anything still here after 5 s leaked.
      await waitFor(async () => (await connectionsTo(name)).length === 0, {
        timeoutMs: 5_000,
        what: 'connections to close',
      });
    } catch {
      leaks.push(`connections from ${JSON.stringify(await connectionsTo(name))}`);
    }
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
    if (leaks.length > 0) throw new Error(`test leaked ${leaks.join(', ')}`);
  });

  return {
    name,
    url,
    pool(poolOptions = {}) {
      const pool = new pg.Pool({
        connectionString: url,
        application_name: 'orders-live-test',
        ...poolOptions,
      });
      pool.on('error', () => undefined);
      pools.push(pool);
      return pool;
    },
    async client(clientOptions = {}) {
      const client = new pg.Client({
        connectionString: url,
        application_name: 'orders-live-test',
        ...clientOptions,
      });
      const entry = { client, ended: false };
      client.on('end', () => {
        entry.ended = true;
      });
      client.on('error', () => undefined);
      clients.push(entry);
      await client.connect();
      return client;
    },
  };
}

function templatePid(): string {
  // The template's name carries the pid of the vitest run; clones carry the same so that the
  // run's teardown (and a later run, if this one dies) can find them.
  const template = inject('templateDatabase');
  return template.slice(TEST_DB_PREFIX.length).split('_')[0]!;
}

async function connectionsTo(name: string): Promise<string[]> {
  return admin(async (c) => {
    const { rows } = await c.query<{ application_name: string }>(
      'SELECT application_name FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    return rows.map((r) => r.application_name);
  });
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, application_name: 'orders-live-test-admin' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
