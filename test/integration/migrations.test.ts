// Migrations go up, down and up again, and down really undoes.

import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate, migrationStatus } from '../../src/db/migrate.js';
import { createLogger } from '../../src/log.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase({ empty: true });
const log = createLogger('silent');
let pool: pg.Pool;

beforeAll(() => {
  pool = db.pool();
});
afterAll(() => pool.end());

async function objects(): Promise<string[]> {
  const { rows } = await pool.query(`
    SELECT 'table ' || tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'pgmigrations'
    UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
    UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
    ORDER BY 1`);
  return rows.map((r) => r.name);
}

it('goes up, down and up again cleanly', async () => {
  expect(await objects()).toEqual([]);
  const up = await migrate(db.url, { direction: 'up', log });
  expect(up.length).toBeGreaterThanOrEqual(2);
  const afterUp = await objects();
  expect(afterUp).toEqual(
    expect.arrayContaining([
      'table orders',
      'table order_events',
      'trigger orders_capture_update',
      'trigger orders_versioning',
    ]),
  );
  expect(await migrationStatus(db.url, log)).toEqual({ applied: up, pending: [] });

  const down = await migrate(db.url, { direction: 'down', count: Number.POSITIVE_INFINITY, log });
  expect(down).toEqual([...up].reverse());
  expect(await objects()).toEqual([]);
  expect((await migrationStatus(db.url, log)).pending).toEqual(up);

  expect(await migrate(db.url, { direction: 'up', log })).toEqual(up);
  expect(await objects()).toEqual(afterUp);
  await pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('a', 'b')");
  expect((await pool.query('SELECT op FROM order_events')).rows).toEqual([{ op: 'insert' }]);
});

it('moves positions into batches (0007) and back, keeping every position and numbering what waited', async () => {
  await migrate(db.url, { direction: 'down', count: Number.POSITIVE_INFINITY, log });
  // Up to 0006, where positions are a column of the event row.
  await migrate(db.url, { direction: 'up', count: 7, log });
  await pool.query(
    "INSERT INTO orders (customer_name, product_name) SELECT 'c' || i, 'p' FROM generate_series(1, 1200) i",
  );
  // 1,100 numbered (1,000 of them confirmed), 100 waiting, as the old relay left them.
  await pool.query(`
    UPDATE order_events SET position = id, published_at = now() - interval '1 hour' WHERE id <= 1100;
    UPDATE bridge_state SET last_position = 1100, confirmed_through = 1000`);
  await pool.query("UPDATE orders SET status = 'shipped' WHERE id = 7");
  expect(await migrate(db.url, { direction: 'up', count: 1, log })).toEqual([
    '1764000000007_batch-positions',
  ]);

  const log0007 = await pool.query<{ position: string; id: string }>(
    'SELECT position, id FROM order_event_log ORDER BY position',
  );
  expect(log0007.rows.map((r) => Number(r.position))).toEqual(Array.from({ length: 1201 }, (_, i) => i + 1));
  // The numbered keep their positions; what waited follows in capture order.
  expect(log0007.rows.map((r) => Number(r.id))).toEqual(Array.from({ length: 1201 }, (_, i) => i + 1));
  const state = await pool.query('SELECT last_position::int, confirmed_through::int FROM bridge_state');
  expect(state.rows[0]).toEqual({ last_position: 1201, confirmed_through: 1000 });
  expect((await pool.query('SELECT count(*)::int AS n FROM order_events_unnumbered()')).rows[0].n).toBe(0);
  const { rows: batches } = await pool.query<{ size: number }>(
    'SELECT cardinality(ids) AS size FROM order_event_batches ORDER BY first_position',
  );
  expect(Math.max(...batches.map((b) => b.size))).toBeLessThanOrEqual(500);
  // A write after the migration is numbered by the bridge's statement, not by the migration.
  await pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('after', 'migration')");
  expect((await pool.query('SELECT count(*)::int AS n FROM order_events_unnumbered()')).rows[0].n).toBe(1);

  await migrate(db.url, { direction: 'down', count: 1, log });
  const back = await pool.query<{ position: string | null; id: string }>(
    'SELECT position, id FROM order_events ORDER BY id',
  );
  expect(back.rows.slice(0, 1201).map((r) => Number(r.position))).toEqual(
    Array.from({ length: 1201 }, (_, i) => i + 1),
  );
  expect(back.rows[1201]!.position).toBeNull();
  await migrate(db.url, { direction: 'up', log });
});
