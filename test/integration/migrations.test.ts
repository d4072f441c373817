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
