// A pool's clients may die at any moment (restart, failover, pg_terminate_backend); the process
// must not: every client, idle or checked out, has someone listening for its error.

import { afterAll, expect, it } from 'vitest';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/log.js';
import { useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
const admin = db.pool();
afterAll(() => admin.end());

it('survives the termination of a checked-out client between two queries, then serves again', async () => {
  const pool = createPool(db.url, {
    applicationName: 'orders-live-pool-test',
    max: 2,
    log: createLogger('silent'),
  });
  try {
    const client = await pool.connect();
    let ended = false;
    client.once('end', () => {
      ended = true;
    });
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    // The client emits 'error', then 'end'. Nobody but the pool listens for 'error' here: without
    // the pool's listener it would be an uncaught exception, failing this file.
    await waitFor(() => ended, { what: 'the client to see its backend end' });
    await expect(client.query('SELECT 1')).rejects.toThrow();
    client.release();
    const again = await pool.query<{ one: number }>('SELECT 1 AS one');
    expect(again.rows[0]!.one).toBe(1);
  } finally {
    await pool.end();
  }
});

it('never JIT-compiles: a statement estimated past jit_above_cost runs without JIT on its clients', async () => {
  const pool = createPool(db.url, {
    applicationName: 'orders-live-pool-test',
    max: 1,
    log: createLogger('silent'),
  });
  // A cheap statement made to pass the threshold; JIT compiling it would take milliseconds.
  const query = `SET jit_above_cost = 0;
    EXPLAIN (ANALYZE, FORMAT JSON) SELECT sum(id) FROM order_events`;
  const jitted = async (on: Pick<typeof pool, 'query'>) => {
    const results = (await on.query(query)) as unknown as { rows: { 'QUERY PLAN': [{ JIT?: unknown }] }[] }[];
    return results[1]!.rows[0]!['QUERY PLAN'][0].JIT !== undefined;
  };
  try {
    // The control: a plain connection to the same server compiles it.
    expect(await jitted(admin)).toBe(true);
    expect(await jitted(pool)).toBe(false);
  } finally {
    await pool.end();
  }
});
