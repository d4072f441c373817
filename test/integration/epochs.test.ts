// Invariant 9 of docs/design.md, one history or a visible break: an asynchronous failover played
// on one database. Clients follow positions 1..N; then, as a promoted standby that lacked the
// last commits, the log and the table go back to position K, the server's timeline changes
// (order_events_timeline() replaced in this database), a new bridge leads and new orders reuse
// positions after K. Every live client above K gets `resync`, reloads, and ends equal to the
// table; a client at or below K resumes without one; one above K that names its epoch resyncs,
// and so does one whose replay read the old history above K while the stream forked.

import type pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge/bridge.js';
import { LEADER_LOCK_KEY_SQL } from '../../src/bridge/leader-lock.js';
import { createLiveOrders, type LiveOrders } from '../../src/client/index.js';
import type { Order } from '../../src/contract/events.js';
import { createLogger } from '../../src/log.js';
import { useExchange } from '../helpers/amqp.js';
import { type RunningApi, startApi } from '../helpers/api.js';
import { createTestBridge } from '../helpers/bridge.js';
import { useTestDatabase } from '../helpers/db.js';
import { startTestGateway } from '../helpers/gateway.js';
import { connectClient, type TestClient } from '../helpers/socket-client.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
const exchange = useExchange();
const log = createLogger('silent');
let pool: pg.Pool;
let api: RunningApi;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  pool = db.pool({ application_name: 'psql' });
  api = await startApi(db);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await api.close();
  await pool.end();
});

/** A bridge, leading; `stop` may be called before the cleanup, which then does nothing. */
async function startBridge(): Promise<{ bridge: Bridge; stop(): Promise<void> }> {
  const bridge = createTestBridge({ db, pool, exchange });
  await bridge.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await bridge.stop();
  };
  cleanups.push(stop);
  await waitFor(() => bridge.state === 'leader', { what: 'leadership' });
  return { bridge, stop };
}

/** `catchUpIntervalMs`: how often the gateway compares the log's head with what it sent. */
async function startGateway(
  catchUpIntervalMs: number,
  options: { pool?: pg.Pool; recentEvents?: number } = {},
): Promise<string> {
  const gw = await startTestGateway({ pool, exchange, catchUpIntervalMs, log, ...options });
  cleanups.push(gw.stop);
  return gw.url;
}

async function follow(url: string): Promise<{ orders: LiveOrders; statuses: string[]; resets: number[] }> {
  const orders = createLiveOrders({ url, apiUrl: api.url });
  const statuses: string[] = [];
  const resets: number[] = [];
  orders.on('status', (status) => statuses.push(status));
  orders.on('reset', () => resets.push(orders.epoch ?? 0));
  cleanups.push(() => orders.close());
  await orders.start();
  return { orders, statuses, resets };
}

function client(url: string, auth: Parameters<typeof connectClient>[1]): TestClient {
  const c = connectClient(url, auth);
  cleanups.push(() => c.close());
  return c;
}

async function insertOrders(n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('before', 'product')");
}

async function head(): Promise<{ position: number; epoch: number }> {
  await waitFor(
    async () =>
      (await pool.query('SELECT 1 FROM order_events_unnumbered() LIMIT 1')).rowCount === 0 &&
      (await pool.query('SELECT 1 FROM bridge_state WHERE confirmed_through = last_position')).rowCount === 1,
    { what: 'the bridge to publish every event' },
  );
  const { rows } = await pool.query('SELECT last_position::int AS position, epoch FROM bridge_state');
  return rows[0];
}

async function table(): Promise<Order[]> {
  const { rows } = await pool.query<{ row: Order }>(
    `SELECT to_jsonb(o) || jsonb_build_object(
       'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) AS row
     FROM orders o ORDER BY id`,
  );
  return rows.map((r) => r.row);
}

const byId = (orders: readonly Order[]) => [...orders].sort((a, b) => a.id - b.id);

interface Deposed {
  /**
   * The bridge still runs: its leader session is cut, and it cannot lead again before the standby
   * is promoted (the commit).
   */
  leaderRunning?: boolean;
  /** The deposed leader's last watermark write reached the standby: they stay where they were. */
  staleWatermarks?: boolean;
}

/**
 * What the promoted standby has: the log and the table as they were at position `k`, the
 * capture triggers off while the rows go (they are not changes, they were never there), and
 * another timeline.
 */
async function failOverTo(k: number, timeline: number, deposed: Deposed = {}): Promise<void> {
  const c = await db.client();
  try {
    await c.query('BEGIN');
    if (deposed.leaderRunning) {
      await c.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'orders-live-bridge' AND datname = current_database()`,
      );
      await c.query(`SELECT pg_advisory_xact_lock(${LEADER_LOCK_KEY_SQL})`);
    }
    await c.query('SET LOCAL session_replication_role = replica');
    await c.query(
      `WITH lost AS (SELECT id FROM order_event_positions($1 + 1, (SELECT last_position FROM bridge_state)))
       DELETE FROM orders WHERE id IN (SELECT order_id FROM order_events WHERE id IN (SELECT id FROM lost))`,
      [k],
    );
    await c.query(
      'DELETE FROM order_events WHERE id IN (SELECT id FROM order_event_positions($1 + 1, 1e12::bigint))',
      [k],
    );
    await c.query(
      `UPDATE order_event_batches SET ids = ids[1:$1 - first_position + 1], last_position = $1
       WHERE first_position <= $1 AND last_position > $1`,
      [k],
    );
    await c.query('DELETE FROM order_event_batches WHERE first_position > $1', [k]);
    await c.query(
      deposed.staleWatermarks
        ? 'UPDATE bridge_state SET last_position = $1'
        : `UPDATE bridge_state SET last_position = $1, confirmed_through = least(confirmed_through, $1),
             events_confirmed_through = least(events_confirmed_through, $1)`,
      [k],
    );
    await c.query(
      `CREATE OR REPLACE FUNCTION order_events_timeline() RETURNS int LANGUAGE sql AS $$ SELECT ${timeline} $$`,
    );
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
}

/**
 * The failover, with clients following through one gateway. `catchUpIntervalMs` short: the
 * gateway may see the log behind what it sent before the new bridge numbers; long: only the
 * events of the new epoch tell it.
 */
async function failover(catchUpIntervalMs: number, timeline: number): Promise<void> {
  const oldBridge = await startBridge();
  const url = await startGateway(catchUpIntervalMs);
  const a = await follow(url);
  const b = await follow(url);
  // A plain socket without the library's own epoch checks: whatever it gets, the gateway decided.
  const plain = client(url, {});
  await plain.waitReady();
  await insertOrders(10);
  const before = await head();
  const epoch = before.epoch;
  await waitFor(() => a.orders.position === before.position && b.orders.position === before.position, {
    what: 'both clients at the head',
  });
  expect(a.orders.epoch).toBe(epoch);

  // The primary dies with positions K+1..N not replicated; the standby is promoted.
  await oldBridge.stop();
  const k = before.position - 4;
  await failOverTo(k, timeline);
  await startBridge();
  await pool.query(
    "INSERT INTO orders (customer_name, product_name) VALUES ('after', 'one'), ('after', 'two'); UPDATE orders SET status = 'shipped' WHERE id = 1",
  );
  const after = await head();
  expect(after.epoch).toBe(epoch + 1);
  const { rows } = await pool.query(
    'SELECT epoch, timeline, forked_after::int AS forked FROM log_epochs ORDER BY epoch DESC LIMIT 1',
  );
  expect(rows).toEqual([{ epoch: epoch + 1, timeline, forked: k }]);

  await waitFor(() => plain.resyncs.length > 0, { what: "the gateway's resync to a live socket" });
  expect(plain.events.every((e) => e.epoch === epoch)).toBe(true);
  const now = byId(await table());
  for (const c of [a, b]) {
    await waitFor(() => c.orders.position === after.position && c.orders.status === 'live', {
      what: 'the client to reload and catch up',
    });
    expect(c.statuses).toContain('reloading');
    expect(c.resets.at(-1)).toBe(epoch + 1);
    expect(c.orders.epoch).toBe(epoch + 1);
    expect(byId(c.orders.all())).toEqual(now);
  }

  // A client that stood at or below K resumes across the fork without a resync ...
  const below = client(url, { since: k - 1, epoch });
  await below.waitPosition(after.position);
  expect(below.resyncs).toEqual([]);
  expect(below.events.map((e) => [e.position, e.epoch])).toEqual([
    [k, epoch],
    ...Array.from({ length: after.position - k }, (_, i) => [k + 1 + i, epoch + 1]),
  ]);
  expect(below.ready.at(-1)).toEqual({ position: after.position, epoch: epoch + 1 });
  // ... and one above it that names its epoch is told to resync instead of resuming.
  const above = client(url, { since: k + 1, epoch });
  await waitFor(() => above.resyncs.length > 0, { what: 'a resync' });
  expect(above.events).toEqual([]);
  // An epoch the log has never had (a deposed primary's): the gateway reads the epochs, then resyncs.
  const stranger = client(url, { since: 1, epoch: epoch + 5 });
  await waitFor(() => stranger.resyncs.length > 0, { what: 'a resync of an unknown epoch' });
  expect(stranger.events).toEqual([]);
}

it('makes every client above the fork resync and end equal to the table; one below it resumes', async () => {
  await failover(200, 9001);
});

it("does the same when only the new epoch's events tell the gateway", async () => {
  await failover(60_000, 9002);
});

it("leads on in the new history, the deposed leader's watermarks on the promoted standby", async () => {
  const { bridge } = await startBridge();
  await insertOrders(10);
  const before = await head();
  const k = before.position - 4;
  // The same bridge leads again: nothing it remembers of positions K+1..N, and no watermark the
  // old primary's leader wrote above K, holds back or skips the new history's positions.
  await failOverTo(k, 9005, { leaderRunning: true, staleWatermarks: true });
  const epochNow = async () => (await pool.query('SELECT epoch FROM bridge_state')).rows[0].epoch;
  await waitFor(async () => bridge.state === 'leader' && (await epochNow()) === before.epoch + 1, {
    what: 'the bridge to lead under the new epoch',
  });
  await insertOrders(2);
  expect(await head()).toEqual({ position: k + 2, epoch: before.epoch + 1 });
  await waitFor(
    async () =>
      (await pool.query('SELECT 1 FROM bridge_state WHERE events_confirmed_through = $1', [k + 2]))
        .rowCount === 1,
    { what: 'the per-event relay at the new head' },
  );
  // A gateway starting now begins at the new history's head and replays it to a client at K.
  const url = await startGateway(200);
  const resumed = client(url, { since: k, epoch: before.epoch });
  await resumed.waitPosition(k + 2);
  expect(resumed.events.map((e) => [e.position, e.epoch])).toEqual([
    [k + 1, before.epoch + 1],
    [k + 2, before.epoch + 1],
  ]);
});

it('learns from a handshake an epoch the table has and this gateway has not met yet', async () => {
  const oldBridge = await startBridge();
  const url = await startGateway(60_000);
  const plain = client(url, {});
  await plain.waitReady();
  await insertOrders(5);
  const before = await head();
  await plain.waitPosition(before.position);
  await oldBridge.stop();
  // The failover, and the new epoch opened as a bridge opens it; nothing of it is published, so
  // only the client's handshake, naming it (another gateway learnt it first), tells this gateway.
  const k = before.position - 2;
  await failOverTo(k, 9003);
  const epoch = (await pool.query('SELECT order_events_epoch() AS e')).rows[0].e as number;
  expect(epoch).toBe(before.epoch + 1);
  const resumed = client(url, { since: k, epoch });
  await resumed.waitReady();
  expect(resumed.ready).toEqual([{ position: k, epoch }]);
  expect(resumed.resyncs).toEqual([]);
  // The stream forked back to K: the live socket above it is told so.
  await waitFor(() => plain.resyncs.length > 0, { what: "the gateway's resync to a live socket" });
});

/**
 * The test's pool, except that a log read from position `from()` answers only once `release()`
 * is called (the query itself runs at once); `held()` tells whether it has run.
 */
function heldReadPool(from: () => number) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = false;
  const gated = {
    query(...args: unknown[]) {
      const config = args[0] as { name?: string; values?: unknown[] } | string;
      const result = (pool.query as (...a: unknown[]) => Promise<unknown>).apply(pool, args);
      if (typeof config === 'string' || config.name !== 'orders-live-read-range') return result;
      if (config.values?.[0] !== from()) return result;
      return result.then(async (rows) => {
        held = true;
        await released;
        return rows;
      });
    },
    on: () => undefined,
  } as unknown as pg.Pool;
  cleanups.push(() => release());
  return { pool: gated, held: () => held, release: () => release() };
}

it('resyncs a client whose replay read the old history while the stream forked below it', async () => {
  const oldBridge = await startBridge();
  let since = Number.POSITIVE_INFINITY;
  const replayRead = heldReadPool(() => since + 1);
  // Short catch-up interval: the gateway sees the log behind what it sent and forks; a replay
  // ring of 2 events: the replay reads from the log.
  const url = await startGateway(100, { pool: replayRead.pool, recentEvents: 2 });
  const plain = client(url, {});
  await plain.waitReady();
  await insertOrders(10);
  const before = await head();
  await plain.waitPosition(before.position);
  // The replay reads (since, N] of the old history; its answer waits.
  since = before.position - 8;
  const replaying = client(url, { since, epoch: before.epoch });
  await waitFor(() => replayRead.held(), { what: "the replay's read of the old history" });
  // Meanwhile the log goes back to K, and the stream forks there.
  await oldBridge.stop();
  const k = before.position - 4;
  await failOverTo(k, 9004);
  // Then the new epoch opens, as the promoted side's bridge opens it (the tests after this one
  // start from a log whose epoch follows its timeline).
  cleanups.push(async () => {
    await pool.query('SELECT order_events_epoch()');
  });
  await waitFor(() => plain.resyncs.length > 0, { what: 'the stream to fork' });
  replayRead.release();
  await waitFor(() => replaying.resyncs.length > 0, { what: 'a resync of the replaying client' });
  expect(replaying.resyncs[0]!.reason).toMatch(new RegExp(`went back to position ${k}\\b`));
  expect(replaying.events).toEqual([]);
  expect(replaying.ready).toEqual([]);
});

it('opens an epoch only when the timeline changes, forked after the last position numbered', async () => {
  const epochNow = async () => (await pool.query('SELECT order_events_epoch() AS e')).rows[0].e as number;
  const before = (await pool.query('SELECT max(epoch) AS e FROM log_epochs')).rows[0].e as number;
  expect(await epochNow()).toBe(before);
  expect(await epochNow()).toBe(before);
  await pool.query(
    'CREATE OR REPLACE FUNCTION order_events_timeline() RETURNS int LANGUAGE sql AS $$ SELECT 7777 $$',
  );
  expect(await epochNow()).toBe(before + 1);
  const { rows } = await pool.query(
    `SELECT e.timeline, e.forked_after = s.last_position AS at_head, s.epoch
     FROM log_epochs e, bridge_state s WHERE e.epoch = $1`,
    [before + 1],
  );
  expect(rows).toEqual([{ timeline: 7777, at_head: true, epoch: before + 1 }]);
  expect(await epochNow()).toBe(before + 1);
});
