// The backlog /metrics reports (migration 0006): read from index ends, so a scrape costs the same
// few pages at any backlog, and close to the exact count — equal when ids are contiguous, above it
// by at most the ids of rolled-back writes, 0 when nothing waits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlog } from '../../src/db/event-log.js';
import { numberEvents } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
const pool = () => db.pool({ application_name: 'psql' });
let psql: ReturnType<typeof pool>;

beforeAll(() => {
  psql = pool();
});
afterAll(() => psql.end());

/** Shared buffers a query touched (hit or read): its cost in pages, not in time. */
async function pagesTouched(sql: string): Promise<number> {
  const { rows } = await psql.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`);
  const plan = rows[0]['QUERY PLAN'][0];
  const sum = (node: Record<string, unknown>): number =>
    Number(node['Shared Hit Blocks'] ?? 0) +
    Number(node['Shared Read Blocks'] ?? 0) +
    ((node.Plans as Record<string, unknown>[] | undefined) ?? []).reduce((n, p) => n + sum(p), 0);
  return sum(plan.Plan) + Number(plan.Planning?.['Shared Hit Blocks'] ?? 0);
}

describe('order_events_backlog_estimate()', () => {
  it('is exact when nothing waits and when the waiting ids are contiguous', async () => {
    expect(await backlog(psql, { estimate: true })).toEqual({ count: 0, lagSeconds: 0 });
    await psql.query(
      "INSERT INTO orders (customer_name, product_name) SELECT 'c' || i, 'p' FROM generate_series(1, 30000) i",
    );
    const exact = await backlog(psql);
    const estimate = await backlog(psql, { estimate: true });
    expect(exact.count).toBe(30_000);
    expect(estimate.count).toBe(30_000);
    expect(estimate.lagSeconds).toBeGreaterThan(0);
    expect(Math.abs(estimate.lagSeconds - exact.lagSeconds)).toBeLessThan(1);
  });

  it('counts the ids of a rolled-back write at most, above the exact count', async () => {
    await psql.query('BEGIN');
    await psql.query(
      "INSERT INTO orders (customer_name, product_name) SELECT 'x', 'y' FROM generate_series(1, 100)",
    );
    await psql.query('ROLLBACK');
    await psql.query("INSERT INTO orders (customer_name, product_name) VALUES ('after', 'rollback')");
    const exact = (await backlog(psql)).count;
    const estimate = (await backlog(psql, { estimate: true })).count;
    expect(exact).toBe(30_001);
    expect(estimate).toBeGreaterThanOrEqual(exact);
    expect(estimate).toBeLessThanOrEqual(exact + 100);
  });

  it('reads a few pages where the exact count reads the whole backlog', async () => {
    const estimated = await pagesTouched('SELECT * FROM order_events_backlog_estimate()');
    const counted = await pagesTouched('SELECT * FROM order_events_backlog()');
    expect(estimated).toBeLessThan(40);
    expect(counted).toBeGreaterThan(10 * estimated);
  });

  it('drops to 0 once everything is numbered and confirmed', async () => {
    await numberEvents(psql);
    expect(await backlog(psql, { estimate: true })).toEqual({ count: 0, lagSeconds: 0 });
  });
});
