// The idle-flag doorbell (docs/design.md, "What the doorbell costs"): writers under sustained
// load pay no NOTIFY while the bridge drains, writers below the lease rate ring every time (the
// bridge wakes at once), an isolated write still takes the notification path, and the race
// between a writer and the bridge letting its lease go is caught by the poll.

import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge/bridge.js';
import { useExchange } from '../helpers/amqp.js';
import { createTestBridge } from '../helpers/bridge.js';
import { useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
const exchange = useExchange();
let pool: pg.Pool;
let listener: pg.Client;
let notifications = 0;
let bridge: Bridge | undefined;
let registry: Registry;

beforeAll(async () => {
  pool = db.pool({ application_name: 'psql', max: 4 });
  listener = await db.client({ application_name: 'test-listener' });
  listener.on('notification', (n) => {
    if (n.channel === 'order_events') notifications++;
  });
  await listener.query('LISTEN order_events');
  await pool.query(
    "INSERT INTO orders (customer_name, product_name) SELECT 'c' || i, 'p' FROM generate_series(1, 100) i",
  );
});
afterEach(async () => {
  await bridge?.stop();
  bridge = undefined;
});
afterAll(async () => {
  await listener.end();
  await pool.end();
});

async function startBridge(pollIntervalMs: number, leaseAbovePerSecond = 1_000): Promise<void> {
  registry = new Registry();
  bridge = createTestBridge({
    db,
    pool,
    exchange,
    registry,
    config: { pollIntervalMs, leaseAbovePerSecond },
  });
  await bridge.start();
  await waitUntilIdle();
}

async function isActive(): Promise<boolean> {
  return (await registry.getSingleMetric('orders_live_bridge_active')!.get()).values[0]?.value === 1;
}

/** Leader, caught up, and back to waiting for the doorbell. */
async function waitUntilIdle(): Promise<void> {
  await waitFor(
    async () => bridge!.state === 'leader' && (await unpublished()) === 0 && !(await isActive()),
    {
      what: 'an idle leader',
    },
  );
}

async function unpublished(): Promise<number> {
  const { rows } = await pool.query('SELECT events::int AS n FROM order_events_backlog()');
  return rows[0].n;
}

/** A NOTIFY on another channel, sent after everything before it: once it arrives, all have. */
async function settleNotifications(): Promise<void> {
  let marker = false;
  const onMarker = (n: pg.Notification) => {
    if (n.channel === 'test_marker') marker = true;
  };
  listener.on('notification', onMarker);
  await listener.query('LISTEN test_marker');
  await pool.query('NOTIFY test_marker');
  await waitFor(() => marker, { what: 'the marker notification' });
  listener.off('notification', onMarker);
}

/** Four writers, one single-row UPDATE per transaction, as an application would. */
async function write(statements: number, pause?: () => Promise<void>): Promise<void> {
  await Promise.all(
    [0, 1, 2, 3].map(async (w) => {
      for (let i = w; i < statements; i += 4) {
        await pool.query('UPDATE orders SET customer_name = $2 WHERE id = $1', [(i % 100) + 1, `w${w}-${i}`]);
        await pause?.();
      }
    }),
  );
}

const SUSTAINED_STATEMENTS = 2_000;

/** Writes as fast as four writers go until every event is published; returns the NOTIFYs they rang. */
async function ringsUnderSustainedLoad(): Promise<number> {
  await settleNotifications();
  notifications = 0;
  await write(SUSTAINED_STATEMENTS);
  await settleNotifications();
  const rung = notifications;
  await waitFor(async () => (await unpublished()) === 0, {
    timeoutMs: 20_000,
    what: 'every event published',
  });
  return rung;
}

it('spares writers the NOTIFY while the bridge drains a sustained load, and publishes everything', async () => {
  await startBridge(1_000, 0); // the lease whenever there is work
  const rung = await ringsUnderSustainedLoad();
  // The first statements ring and wake the bridge; then it holds the lease and writers stay quiet.
  expect(rung).toBeGreaterThanOrEqual(1);
  expect(rung).toBeLessThan(SUSTAINED_STATEMENTS / 100);
});

it('lets writers ring below the lease rate and holds the lease above it', async () => {
  // 40 statements at about 100 a second: far below 1,000/s, each rings and nothing holds the lease.
  await startBridge(60_000, 1_000);
  await settleNotifications();
  notifications = 0;
  let leased = false;
  const pause = async () => {
    leased ||= await isActive();
    await new Promise((resolve) => setTimeout(resolve, 40));
  };
  await write(40, pause);
  await settleNotifications();
  expect(notifications).toBe(40);
  expect(leased).toBe(false);
  await waitFor(async () => (await unpublished()) === 0, { what: 'every event published' });
  await bridge!.stop();

  // As fast as four writers go, far above 50/s: after a few drains the lease spares them.
  await startBridge(1_000, 50);
  const rung = await ringsUnderSustainedLoad();
  expect(rung).toBeGreaterThanOrEqual(1);
  expect(rung).toBeLessThan(SUSTAINED_STATEMENTS / 10);
});

it('publishes an isolated write through the notification, not the poll', async () => {
  await startBridge(60_000); // a poll this slow cannot be what publishes within the test
  await settleNotifications();
  notifications = 0;
  const before = Date.now();
  await pool.query("UPDATE orders SET status = 'shipped' WHERE id = 1");
  await waitFor(async () => (await unpublished()) === 0, {
    timeoutMs: 5_000,
    what: 'the write to be published',
  });
  expect(Date.now() - before).toBeLessThan(5_000);
  await settleNotifications();
  expect(notifications).toBe(1);
});

it('publishes within the poll interval a write that read the lease just before it was released', async () => {
  const POLL_MS = 500;
  await startBridge(POLL_MS);
  await settleNotifications();
  notifications = 0;
  const writer = await pool.connect();
  const other = await pool.connect();
  try {
    // As if the leader were active: the writer's statement sees the lease and does not ring …
    await other.query("UPDATE bridge_doorbell SET quiet_until = now() + interval '1 hour'");
    await writer.query('BEGIN');
    await writer.query("UPDATE orders SET status = 'processing' WHERE id = 2");
    // … then the leader lets the lease go and drains once more, before the writer commits.
    await other.query("UPDATE bridge_doorbell SET quiet_until = '-infinity'");
    await writer.query('COMMIT');
  } finally {
    writer.release();
    other.release();
  }
  const committed = Date.now();
  await waitFor(async () => (await unpublished()) === 0, {
    timeoutMs: POLL_MS + 2_000,
    what: 'the poll to publish it',
  });
  expect(Date.now() - committed).toBeLessThan(POLL_MS + 2_000);
  await settleNotifications();
  expect(notifications).toBe(0);
});

it('rings on every statement when no bridge is running', async () => {
  await settleNotifications();
  notifications = 0;
  for (let i = 0; i < 10; i++)
    await pool.query('UPDATE orders SET customer_name = $1 WHERE id = 3', [`solo ${i}`]);
  await settleNotifications();
  expect(notifications).toBe(10);
});
