// Invariant 8 of docs/design.md, snapshot meets stream: a GET /orders page taken while the API
// and plain SQL write and the "bridge" numbers events, caught up with GET /events?after=<its
// X-Event-Position> (applying an event only where its version is newer), equals the table.

import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Order, OrderEvent } from '../../src/contract/events.js';
import { delay } from '../../src/lib/wait.js';
import { assignPositions, numberEvents, type RunningApi, startApi } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
let api: RunningApi;
let sql: pg.Pool;

beforeAll(async () => {
  api = await startApi(db);
  sql = db.pool({ application_name: 'psql', max: 4 });
});
afterAll(async () => {
  await api.close();
  await sql.end();
});
beforeEach(async () => {
  await sql.query(
    'TRUNCATE orders RESTART IDENTITY; TRUNCATE order_events RESTART IDENTITY; TRUNCATE order_event_batches; UPDATE bridge_state SET last_position = 0, confirmed_through = 0, events_confirmed_through = 0',
  );
});

interface Snapshot {
  position: number;
  orders: Map<number, Order>;
}

/** Every page of GET /orders; the first page's position covers them all (later ones are newer). */
async function takeSnapshot(): Promise<Snapshot> {
  const orders = new Map<number, Order>();
  let position: number | undefined;
  let after = 0;
  for (;;) {
    const res = await api.call('GET', `/orders?limit=1000&after=${after}`);
    expect(res.status).toBe(200);
    position ??= Number(res.headers.get('x-event-position'));
    for (const order of res.body.orders as Order[]) orders.set(order.id, order);
    if (res.body.next === null) return { position, orders };
    after = res.body.next;
  }
}

async function eventsAfter(position: number): Promise<OrderEvent[]> {
  const events: OrderEvent[] = [];
  for (let after = position; ; ) {
    const res = await api.call('GET', `/events?after=${after}&limit=1000`);
    if (res.body.events.length === 0) return events;
    events.push(...res.body.events);
    after = res.body.next;
  }
}

/** Invariant 8 of docs/design.md: newer versions win, deletes remove, truncate clears. */
function apply(orders: Map<number, Order>, event: OrderEvent): void {
  if (event.op === 'truncate') {
    orders.clear();
    return;
  }
  const current = orders.get(event.order_id!);
  if (current && current.version >= event.version!) return;
  if (event.op === 'delete') orders.delete(event.order_id!);
  else orders.set(event.order_id!, event.order!);
}

/** Timestamps as epoch microseconds: the API writes "…Z", to_jsonb "…+00:00" without trailing zeros. */
function canonical(order: Order): Order {
  const micros = (iso: string) => {
    const m = /^(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
    if (!m) throw new Error(`not an ISO timestamp: ${iso}`);
    return `${Date.parse(`${m[1]}${m[3]}`) / 1000}.${(m[2] ?? '').padEnd(6, '0')}`;
  };
  return { ...order, created_at: micros(order.created_at), updated_at: micros(order.updated_at) };
}

async function table(): Promise<Order[]> {
  const { rows } = await sql.query<{ o: Order }>('SELECT to_jsonb(o) AS o FROM orders o ORDER BY id');
  return rows.map((r) => canonical(r.o));
}

const sorted = (orders: Map<number, Order>) =>
  [...orders.values()].sort((a, b) => a.id - b.id).map(canonical);
const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(Math.random() * items.length)];

it('GET /orders plus the events after its X-Event-Position gives the current table', async () => {
  await sql.query(
    "INSERT INTO orders (customer_name, product_name) SELECT 'seed ' || i, 'p' FROM generate_series(1, 40) i",
  );
  await numberEvents(sql);
  const DURATION_MS = 3_000;
  const deadline = Date.now() + DURATION_MS;
  const running = () => Date.now() < deadline;
  const unexpected: string[] = [];
  const ids = async () => (await sql.query<{ id: string }>('SELECT id FROM orders')).rows.map((r) => r.id);

  const apiWriter = async (w: number) => {
    for (let i = 0; running(); i++) {
      const id = pick(await ids()) ?? '1';
      const status = pick(['pending', 'processing', 'shipped', 'delivered', 'cancelled']);
      const [method, path, json] = [
        ['POST', '/orders', { customer_name: `api ${w}-${i}`, product_name: 'p', status }],
        ['PATCH', `/orders/${id}`, { status }],
        ['PUT', `/orders/${id}`, { customer_name: `api ${w}-${i}` }],
        ['DELETE', `/orders/${id}`, undefined],
      ][i % 4] as [string, string, unknown];
      const res = await api.call(method, path, { json });
      // 404: another writer deleted the order first, which is fine.
      if (![200, 201, 204, 404].includes(res.status)) unexpected.push(`${method} ${path}: ${res.status}`);
    }
  };
  const sqlWriter = async () => {
    for (let i = 0; running(); i++) {
      const id = pick(await ids()) ?? '1';
      const statements = [
        "INSERT INTO orders (customer_name, product_name) SELECT 'sql ' || g, 'q' FROM generate_series(1, 3) g",
        `UPDATE orders SET status = 'shipped', product_name = 'bulk ${i}' WHERE id % 5 = ${i % 5}`,
        `DELETE FROM orders WHERE id = ${id}`,
        `UPDATE orders SET customer_name = 'sql ${i}' WHERE id = ${id}`,
      ];
      await sql.query(i === 40 ? 'TRUNCATE orders' : statements[i % statements.length]!);
    }
  };
  const bridge = async () => {
    while (running()) {
      await numberEvents(sql);
      await delay(5); // pacing, as a bridge's poll would: it waits for nothing in particular
    }
  };
  const snapshots: Snapshot[] = [];
  const snapshotter = async () => {
    while (running()) {
      snapshots.push(await takeSnapshot());
      await delay(100); // spreads the snapshots over the run
    }
  };
  await Promise.all([apiWriter(1), apiWriter(2), sqlWriter(), bridge(), snapshotter()]);
  while ((await numberEvents(sql)) > 0);

  expect(unexpected).toEqual([]);
  const final = await table();
  expect(final.length).toBeGreaterThan(0);
  expect(snapshots.length).toBeGreaterThan(5);
  expect(snapshots.some((s) => s.position > 0)).toBe(true);
  let stale = 0;
  for (const snapshot of snapshots) {
    if (!isDeepStrictEqual(sorted(snapshot.orders), final)) stale++;
    for (const event of await eventsAfter(snapshot.position)) apply(snapshot.orders, event);
    expect(sorted(snapshot.orders)).toEqual(final);
  }
  // The snapshots really needed the events, and the log held every kind of change from both sides.
  expect(stale).toBe(snapshots.length);
  const { rows } = await sql.query<{ kinds: string[] }>(
    "SELECT array_agg(DISTINCT op || '/' || source ORDER BY op || '/' || source) AS kinds FROM order_events",
  );
  expect(rows[0]!.kinds).toEqual(
    expect.arrayContaining([
      'insert/api',
      'update/api',
      'delete/api',
      'insert/sql',
      'update/sql',
      'truncate/sql',
    ]),
  );
});

it('reads the position and the orders in one snapshot, even when the bridge commits in between', async () => {
  // The window between the two reads is a millisecond; a lock on bridge_state holds it open: the
  // API's read of the position waits while an order changes and the bridge numbers that change.
  const created = await api.call('POST', '/orders', { json: { customer_name: 'Harry', product_name: 'p' } });
  await numberEvents(sql);
  const bridge = await sql.connect();
  try {
    await bridge.query('BEGIN');
    await bridge.query('LOCK TABLE bridge_state IN ACCESS EXCLUSIVE MODE');
    const answer = takeSnapshot();
    await waitFor(
      async () =>
        (await sql.query("SELECT 1 FROM pg_locks WHERE relation = 'bridge_state'::regclass AND NOT granted"))
          .rowCount,
      { what: 'GET /orders to wait for bridge_state' },
    );
    await sql.query("UPDATE orders SET status = 'shipped' WHERE id = $1", [created.body.id]);
    expect(await assignPositions(bridge)).toBe(1);
    await bridge.query('COMMIT');
    const snapshot = await answer;
    for (const event of await eventsAfter(snapshot.position)) apply(snapshot.orders, event);
    expect(sorted(snapshot.orders)).toEqual(await table());
    expect(snapshot.orders.get(created.body.id)).toMatchObject({ status: 'shipped', version: 2 });
  } finally {
    await bridge.query('ROLLBACK').catch(() => undefined);
    bridge.release();
  }
});
