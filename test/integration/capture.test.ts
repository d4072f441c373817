// Invariants 1 and 2 of docs/design.md: capture in the database, whoever writes.

import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
let pool: pg.Pool;

interface EventRow {
  id: string;
  op: string;
  order_id: string | null;
  version: number | null;
  order: Record<string, unknown> | null;
  changes: Record<string, [unknown, unknown]> | null;
  source: string;
  actor: string;
  txid: string;
}

beforeAll(() => {
  pool = db.pool({ application_name: 'psql', max: 10 });
});
afterAll(() => pool.end());
beforeEach(async () => {
  await pool.query(
    'TRUNCATE orders RESTART IDENTITY; TRUNCATE order_events RESTART IDENTITY; TRUNCATE order_event_batches',
  );
});

async function events(): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>('SELECT * FROM order_events ORDER BY id');
  return rows;
}

async function insertOrder(
  customer = 'Harry',
  product = 'iPhone 17',
): Promise<{ id: string; version: number }> {
  const { rows } = await pool.query(
    'INSERT INTO orders (customer_name, product_name) VALUES ($1, $2) RETURNING id, version',
    [customer, product],
  );
  return rows[0];
}

/** `count` orders in one statement. */
async function insertOrders(count: number): Promise<void> {
  await pool.query(
    "INSERT INTO orders (customer_name, product_name) SELECT 'c' || i, 'p' FROM generate_series(1, $1::int) i",
    [count],
  );
}

/** The order's version, and whether its updated_at moved past created_at or stayed on it. */
async function versionOf(id: string): Promise<{ version: number; bumped: boolean; untouched: boolean }> {
  const { rows } = await pool.query(
    'SELECT version, updated_at > created_at AS bumped, updated_at = created_at AS untouched FROM orders WHERE id = $1',
    [id],
  );
  return rows[0];
}

describe('capture through plain SQL', () => {
  it('records an INSERT as one insert event with the new row', async () => {
    const order = await insertOrder();
    const [event, ...more] = await events();
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      op: 'insert',
      order_id: order.id,
      version: 1,
      changes: null,
      source: 'sql',
      actor: 'postgres/psql',
    });
    expect(event!.order).toMatchObject({
      id: Number(order.id),
      customer_name: 'Harry',
      status: 'pending',
      version: 1,
    });
    expect(event!.txid).toMatch(/^\d+$/);
  });

  it('records an UPDATE with its changes and the bumped version', async () => {
    const order = await insertOrder();
    await pool.query("UPDATE orders SET status = 'shipped' WHERE id = $1", [order.id]);
    const all = await events();
    expect(all).toHaveLength(2);
    expect(all[1]).toMatchObject({
      op: 'update',
      order_id: order.id,
      version: 2,
      source: 'sql',
      actor: 'postgres/psql',
    });
    expect(all[1]!.changes).toEqual({ status: ['pending', 'shipped'] });
    expect(all[1]!.order).toMatchObject({ status: 'shipped', version: 2 });
    expect(await versionOf(order.id)).toEqual({ version: 2, bumped: true, untouched: false });
  });

  it('names every column an UPDATE changed, old and new, and covers every column of orders', async () => {
    const order = await insertOrder();
    const { rows: columns } = await pool.query<{ name: string }>(
      `SELECT column_name AS name FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'orders'
         AND column_name NOT IN ('id', 'version', 'updated_at')`,
    );
    // One statement that changes every column but the three that never appear in `changes`.
    await pool.query(
      `UPDATE orders SET customer_name = 'Ron', product_name = 'iPad', status = 'cancelled',
         created_at = '2026-01-02 03:04:05+01' WHERE id = $1`,
      [order.id],
    );
    const changes = (await events())[1]!.changes!;
    expect(Object.keys(changes).sort()).toEqual(columns.map((c) => c.name).sort());
    expect(changes).toMatchObject({
      customer_name: ['Harry', 'Ron'],
      product_name: ['iPhone 17', 'iPad'],
      status: ['pending', 'cancelled'],
    });
    expect(changes.created_at![1]).toBe('2026-01-02T02:04:05+00:00');
  });

  it('records a DELETE with the last row and a tombstone version', async () => {
    const order = await insertOrder();
    await pool.query("UPDATE orders SET status = 'processing' WHERE id = $1", [order.id]);
    await pool.query('DELETE FROM orders WHERE id = $1', [order.id]);
    const last = (await events()).at(-1);
    expect(last).toMatchObject({ op: 'delete', order_id: order.id, version: 3, changes: null });
    expect(last!.order).toMatchObject({ id: Number(order.id), status: 'processing', version: 2 });
  });

  it('names the client application in the actor', async () => {
    const client = await db.client({ application_name: 'DBeaver 24' });
    try {
      await client.query("INSERT INTO orders (customer_name, product_name) VALUES ('a', 'b')");
    } finally {
      await client.end();
    }
    expect((await events())[0]).toMatchObject({ source: 'sql', actor: 'postgres/DBeaver 24' });
  });

  it('marks a transaction that sets the API setting as source api', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("SET LOCAL orders_live.source = 'api'");
      await client.query("SET LOCAL orders_live.actor = 'api/ops-team'");
      await client.query("INSERT INTO orders (customer_name, product_name) VALUES ('a', 'b')");
      await client.query('COMMIT');
      // The setting is transaction-local: the next write on the same connection is sql again.
      await client.query("INSERT INTO orders (customer_name, product_name) VALUES ('c', 'd')");
    } finally {
      client.release();
    }
    const all = await events();
    expect(all.map((e) => [e.source, e.actor])).toEqual([
      ['api', 'api/ops-team'],
      ['sql', 'postgres/psql'],
    ]);
  });

  it('captures nothing for a rolled-back change', async () => {
    const order = await insertOrder();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("UPDATE orders SET status = 'cancelled' WHERE id = $1", [order.id]);
      await client.query("INSERT INTO orders (customer_name, product_name) VALUES ('x', 'y')");
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect((await events()).map((e) => e.op)).toEqual(['insert']);
  });

  it('captures nothing and keeps the version for an UPDATE that changes nothing', async () => {
    const order = await insertOrder();
    const result = await pool.query(
      "UPDATE orders SET status = status, customer_name = 'Harry', version = 99 WHERE id = $1",
      [order.id],
    );
    expect(result.rowCount).toBe(1);
    expect((await events()).map((e) => e.op)).toEqual(['insert']);
    expect(await versionOf(order.id)).toEqual({ version: 1, bumped: false, untouched: true });
  });

  it('refuses to change an order id', async () => {
    const order = await insertOrder();
    await expect(pool.query('UPDATE orders SET id = id + 1000 WHERE id = $1', [order.id])).rejects.toThrow(
      /cannot be changed/,
    );
  });

  it('captures TRUNCATE as one truncate event', async () => {
    await insertOrders(20);
    await pool.query('TRUNCATE orders');
    const all = await events();
    expect(all).toHaveLength(21);
    expect(all[20]).toMatchObject({
      op: 'truncate',
      order_id: null,
      version: null,
      order: null,
      source: 'sql',
    });
  });

  it('captures INSERT … ON CONFLICT DO UPDATE as an insert or an update', async () => {
    const order = await insertOrder();
    await pool.query(
      `INSERT INTO orders (id, customer_name, product_name) VALUES ($1, 'Harry', 'iPad'), (100000, 'New', 'Mac')
       ON CONFLICT (id) DO UPDATE SET product_name = excluded.product_name`,
      [order.id],
    );
    const all = await events();
    expect(all.map((e) => [e.op, e.order_id])).toEqual(
      expect.arrayContaining([
        ['insert', order.id],
        ['insert', '100000'],
        ['update', order.id],
      ]),
    );
    expect(all.find((e) => e.op === 'update')!.changes).toEqual({ product_name: ['iPhone 17', 'iPad'] });
  });
});

describe('bulk statements and large rows', () => {
  it('captures 5,000 rows of one statement as 5,000 events and rings NOTIFY once', async () => {
    await insertOrders(5_000);
    const listener = await db.client();
    try {
      const seen: string[] = [];
      listener.on('notification', (n) => seen.push(n.channel));
      await listener.query('LISTEN order_events; LISTEN test_marker');
      await pool.query("UPDATE orders SET status = 'processing'");
      // Notifications reach a listener in commit order: once the marker sent after the bulk
      // statement has arrived, every notification of that statement has arrived too.
      await pool.query('NOTIFY test_marker');
      await waitFor(() => seen.includes('test_marker'), { what: 'the marker notification' });
      expect(seen.filter((c) => c === 'order_events')).toHaveLength(1);
    } finally {
      await listener.end();
    }
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders FROM order_events WHERE op = 'update'",
    );
    expect(rows[0]).toEqual({ n: 5000, orders: 5000 });
  });

  it('joins a bulk UPDATE’s old and new rows without a nested loop after a single-row UPDATE on the same connection', async () => {
    // PL/pgSQL plans the capture's INSERT at its first run on a connection and keeps that plan.
    // Planned for one row, the join of the transition tables was a nested loop, and every later
    // bulk UPDATE on the connection cost rows × rows (migration 0008). auto_explain hands each
    // nested statement's plan to this client as a LOG message.
    await insertOrders(200);
    const writer = await db.client();
    try {
      const plans: string[] = [];
      writer.on('notice', (n) => plans.push(n.message ?? ''));
      await writer.query(`
        LOAD 'auto_explain';
        SET auto_explain.log_min_duration = 0;
        SET auto_explain.log_nested_statements = on;
        SET client_min_messages = log`);
      await writer.query("UPDATE orders SET status = 'processing' WHERE id = 1");
      await writer.query("UPDATE orders SET status = 'shipped' WHERE id <= 200");
      const capturePlans = plans.filter((p) => p.includes('Insert on order_events'));
      expect(capturePlans).toHaveLength(2);
      for (const plan of capturePlans) {
        expect(plan).toMatch(/Hash Join|Merge Join/);
        expect(plan).not.toContain('Nested Loop');
      }
    } finally {
      await writer.end();
    }
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM order_events WHERE op = 'update'");
    expect(rows[0].n).toBe(201);
  });

  it('writes and captures a row far larger than a NOTIFY payload', async () => {
    const name = 'Ö'.repeat(10_000); // 20,000 bytes of UTF-8
    const order = await insertOrder(name, 'p');
    await pool.query("UPDATE orders SET status = 'shipped' WHERE id = $1", [order.id]);
    const all = await events();
    expect(all).toHaveLength(2);
    expect(all[0]!.order!.customer_name).toBe(name);
    expect(all[1]!.order!.customer_name).toBe(name);
  });
});

describe('concurrent writers', () => {
  it('logs every committed change once, with per-order versions strictly increasing', async () => {
    const ORDERS = 50;
    const WRITERS = 8;
    const DURATION_MS = 3_000;
    await insertOrders(ORDERS);
    const ids = (await pool.query('SELECT id FROM orders ORDER BY id')).rows.map((r) => String(r.id));
    const committed = new Set<string>();
    let rolledBack = 0;
    const deadline = Date.now() + DURATION_MS;

    const writer = async (w: number) => {
      const client = await pool.connect();
      try {
        for (let i = 0; Date.now() < deadline; i++) {
          // Two rows per transaction, locked in id order so writers never deadlock.
          const pair = [ids[(w * 7 + i) % ORDERS]!, ids[(w * 13 + i * 3 + 1) % ORDERS]!].sort(
            (a, b) => Number(a) - Number(b),
          );
          await client.query('BEGIN');
          const touched: string[] = [];
          for (const id of new Set(pair)) {
            const { rows } = await client.query(
              'UPDATE orders SET customer_name = $2 WHERE id = $1 RETURNING version',
              [id, `w${w}-${i}`],
            );
            touched.push(`${id}:${rows[0].version}`);
          }
          if (i % 5 === 4) {
            await client.query('ROLLBACK');
            rolledBack++;
          } else {
            await client.query('COMMIT');
            for (const t of touched) committed.add(t);
          }
        }
      } finally {
        client.release();
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));

    const { rows } = await pool.query<{ order_id: string; version: number }>(
      "SELECT order_id, version FROM order_events WHERE op = 'update' ORDER BY id",
    );
    const logged = rows.map((r) => `${r.order_id}:${r.version}`);
    expect(rolledBack).toBeGreaterThan(0);
    expect(logged.length).toBe(committed.size);
    expect(new Set(logged)).toEqual(committed);
    const lastVersion = new Map<string, number>();
    for (const r of rows) {
      expect(r.version).toBeGreaterThan(lastVersion.get(r.order_id) ?? 1);
      lastVersion.set(r.order_id, r.version);
    }
    const final = await pool.query<{ id: string; version: number }>('SELECT id, version FROM orders');
    for (const row of final.rows) expect(row.version).toBe(lastVersion.get(row.id) ?? 1);
  });
});
