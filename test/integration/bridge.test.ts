// Invariants 3, 4 and 7 of docs/design.md: positions without gaps, nothing lost on the way to
// the broker whatever dies, and one leader at a time.

import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge/bridge.js';
import { deleteExpired } from '../../src/bridge/retention.js';
import type { BridgeConfig } from '../../src/config.js';
import { readRange } from '../../src/db/event-log.js';
import {
  brokerConnections,
  closeBrokerConnections,
  createFeedConsumer,
  createTestConsumer,
  range,
  type TestConsumer,
  useExchange,
} from '../helpers/amqp.js';
import { createTestBridge } from '../helpers/bridge.js';
import { useTestDatabase } from '../helpers/db.js';
import { cliEnv, startCli } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
const exchange = useExchange();
let pool: pg.Pool;

beforeAll(() => {
  pool = db.pool({ application_name: 'psql' });
});
afterAll(() => pool.end());
beforeEach(async () => {
  // Every test starts from an empty log and counter, so positions start at 1 again.
  await pool.query(
    'TRUNCATE orders RESTART IDENTITY; TRUNCATE order_events RESTART IDENTITY; TRUNCATE order_event_batches',
  );
  await pool.query(
    'UPDATE bridge_state SET last_position = 0, confirmed_through = 0, events_confirmed_through = 0',
  );
});

/** Stops the bridge first (it may still be publishing), then closes the consumers in order. */
async function stopThenClose(bridge: Bridge, ...consumers: { close(): Promise<unknown> }[]): Promise<void> {
  await bridge.stop();
  for (const consumer of consumers) await consumer.close();
}

function inProcessBridge(overrides: Partial<BridgeConfig> = {}): Bridge {
  return createTestBridge({ db, pool, exchange, config: overrides });
}

function bridgeProcess(extraEnv: Record<string, string> = {}) {
  return startCli(['start', '--role', 'bridge', '--port', '0'], cliEnv(db, exchange, extraEnv));
}

/** Inserts `n` orders in statements of `perStatement` rows. */
async function bulkInsert(n: number, perStatement = 2_000): Promise<void> {
  for (let done = 0; done < n; done += perStatement) {
    await pool.query(
      "INSERT INTO orders (customer_name, product_name) SELECT 'customer ' || i, 'product' FROM generate_series(1, $1::int) i",
      [Math.min(perStatement, n - done)],
    );
  }
}

/** Every position 1..n arrived; repeats are allowed, but each carries the same content. */
async function expectComplete(consumer: TestConsumer, n: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => new Set(consumer.positions()).size >= n, {
    timeoutMs,
    what: `${n} distinct positions (have ${new Set(consumer.positions()).size})`,
  });
  expect(consumer.distinct()).toEqual(range(n));
  const log = new Map((await readRange(pool, 1, n)).map((e) => [e.position, e]));
  expect(log.size).toBe(n);
  for (const { event } of consumer.messages) {
    const stored = log.get(event.position)!;
    expect({ ...event, published_at: null }).toEqual({ ...stored, published_at: null });
  }
  const { rows } = await pool.query('SELECT events::int AS n FROM order_events_backlog()');
  expect(rows[0].n).toBe(0);
}

describe('relay', () => {
  it('publishes 20,000 bulk-written events as positions 1..20,000 in order, matching the log', async () => {
    const consumer = await createTestConsumer(exchange);
    const feed = await createFeedConsumer(exchange);
    const bridge = inProcessBridge();
    await bridge.start();
    try {
      await bulkInsert(20_000);
      await expectComplete(consumer, 20_000);
      // The gateways' feed carries the same events, one message per batch: each batch continues
      // the previous one by exactly one and is named by its first and last position.
      await expectComplete(feed, 20_000);
      expect(feed.positions()).toEqual(range(20_000));
      expect(feed.batches.length).toBeLessThan(20_000);
      for (const { events, properties } of feed.batches) {
        expect(events.map((e) => e.position)).toEqual(
          Array.from({ length: events.length }, (_, i) => events[0]!.position + i),
        );
        expect(properties).toMatchObject({
          messageId: `${events[0]!.position}-${events.at(-1)!.position}`,
          type: 'batch',
          contentType: 'application/json',
        });
      }
      // Without repeats (nothing failed here) the stream is exactly 1..20,000 in order.
      expect(consumer.positions()).toEqual(range(20_000));
      const first = consumer.messages[0]!;
      expect(first.routingKey).toBe('order.insert.pending');
      expect(first.properties).toMatchObject({
        messageId: '1',
        type: 'insert',
        contentType: 'application/json',
        deliveryMode: 2,
      });
      expect(first.event.published_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const stored = await readRange(pool, 1, 1);
      expect(stored[0]!.published_at).toBe(first.event.published_at);
    } finally {
      await stopThenClose(bridge, consumer, feed);
    }
  });

  it('carries a 20 KB row through intact, with update and delete routing keys', async () => {
    const consumer = await createTestConsumer(exchange);
    const bridge = inProcessBridge();
    await bridge.start();
    try {
      const name = '€'.repeat(7_000); // 21,000 bytes
      const { rows } = await pool.query(
        'INSERT INTO orders (customer_name, product_name) VALUES ($1, $2) RETURNING id',
        [name, 'p'],
      );
      await pool.query("UPDATE orders SET status = 'shipped' WHERE id = $1", [rows[0].id]);
      await pool.query('DELETE FROM orders WHERE id = $1', [rows[0].id]);
      await waitFor(() => consumer.messages.length >= 3, { what: 'three messages' });
      expect(consumer.messages.map((m) => m.routingKey)).toEqual([
        'order.insert.pending',
        'order.update.shipped',
        'order.delete.shipped',
      ]);
      expect(consumer.messages.map((m) => m.event.order!.customer_name)).toEqual([name, name, name]);
    } finally {
      await stopThenClose(bridge, consumer);
    }
  });
});

describe('integrations', () => {
  it("brings an integration's message within 100 ms of the feed's on a quiet system, without the slow poll", async () => {
    // A slow poll of a minute: only the feed's kick can bring the per-event messages in time.
    const bridge = inProcessBridge({ pollIntervalMs: 60_000 });
    const integration = await createTestConsumer(exchange);
    const feed = await createFeedConsumer(exchange);
    try {
      await bridge.start();
      await waitFor(() => bridge.state === 'leader', { what: 'leadership' });
      const gaps: number[] = [];
      for (let i = 1; i <= 5; i++) {
        await pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('Quiet', 'One')");
        await waitFor(() => integration.distinct().length === i && feed.distinct().length === i, {
          timeoutMs: 5_000,
          what: `position ${i} on the feed and on the exchange`,
        });
        const onFeed = feed.messages.find((m) => m.event.position === i)!.receivedAt;
        const onExchange = integration.messages.find((m) => m.event.position === i)!.receivedAt;
        gaps.push(onExchange - onFeed);
        // Quiet in between: the feed goes idle, as it does between an application's writes.
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      expect(Math.max(...gaps)).toBeLessThan(100);
    } finally {
      await stopThenClose(bridge, integration, feed);
    }
  });
});

describe('faults', () => {
  it('loses nothing when the bridge is killed with SIGKILL mid-stream and restarted', async () => {
    const consumer = await createTestConsumer(exchange);
    const feed = await createFeedConsumer(exchange);
    const first = bridgeProcess();
    await first.waitForLog({ msg: 'became leader' });
    const writing = bulkInsert(20_000, 500);
    await waitFor(() => consumer.messages.length >= 3_000, { what: 'the stream to be under way' });
    expect(await first.kill('SIGKILL')).toBe('SIGKILL');
    const positionsAtKill = new Set(consumer.positions()).size;
    await writing;
    expect(positionsAtKill).toBeLessThan(20_000);
    const second = bridgeProcess();
    await expectComplete(consumer, 20_000);
    await expectComplete(feed, 20_000);
    expect(await second.kill('SIGTERM')).toBe(0);
    await consumer.close();
    await feed.close();
  });

  // The feed's connection and the per-event one fail alone: each recovers, and neither holds the
  // other back for good — both streams end complete and the two watermarks meet.
  for (const [link, marker] of [
    ['the feed', 'orders-live-bridge'],
    ['the per-event exchange', 'orders-live-bridge-events'],
  ] as const) {
    it(`recovers when RabbitMQ closes the connection of ${link} mid-stream`, async () => {
      const consumer = await createTestConsumer(exchange);
      const feed = await createFeedConsumer(exchange);
      const bridge = inProcessBridge();
      await bridge.start();
      try {
        const writing = bulkInsert(20_000, 500);
        await waitFor(() => consumer.messages.length >= 2_000, { what: 'the stream to be under way' });
        // Exactly one connection of that link, waited for: the assertion below once saw another
        // count (under a parallel CLI test; not reproduced in 12 runs since), and this wait names it.
        await waitFor(async () => (await brokerConnections(`${marker} ${exchange}`)).length === 1, {
          what: `one connection named ${marker} ${exchange}`,
        });
        expect(await closeBrokerConnections(`${marker} ${exchange}`)).toBe(1);
        await writing;
        await expectComplete(feed, 20_000);
        await expectComplete(consumer, 20_000);
        await waitFor(
          async () =>
            (
              await pool.query(
                'SELECT confirmed_through = events_confirmed_through AS even FROM bridge_state',
              )
            ).rows[0].even,
          { what: 'the per-event watermark to reach the feed’s' },
        );
      } finally {
        await stopThenClose(bridge, consumer, feed);
      }
    });
  }

  it('keeps flowing when its LISTEN and leader-lock backends are terminated', async () => {
    const consumer = await createTestConsumer(exchange);
    const bridge = inProcessBridge({ pollIntervalMs: 200 });
    await bridge.start();
    try {
      await waitFor(() => bridge.state === 'leader', { what: 'leadership' });
      await bulkInsert(1_000, 100);
      await waitFor(() => consumer.messages.length >= 1_000, { what: 'the first thousand' });
      const terminate = (app: string) =>
        pool.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
          [db.name, app],
        );
      expect((await terminate('orders-live-listen')).rowCount).toBe(1);
      await bulkInsert(1_000, 100);
      await waitFor(() => consumer.messages.length >= 2_000, { what: 'events after LISTEN was terminated' });
      expect((await terminate('orders-live-bridge')).rowCount).toBe(1);
      await waitFor(() => bridge.state !== 'leader', { what: 'the bridge to notice it lost the lock' });
      await bulkInsert(1_000, 100);
      await expectComplete(consumer, 3_000);
      expect(bridge.state).toBe('leader');
    } finally {
      await stopThenClose(bridge, consumer);
    }
  });
});

describe('leadership', () => {
  it('lets one of two bridges publish and fails over within 5 s when the leader is killed', async () => {
    const consumer = await createTestConsumer(exchange);
    const a = bridgeProcess();
    await a.waitForLog({ msg: 'became leader' });
    const b = bridgeProcess();
    await b.waitForLog({ msg: 'bridge is standby' });

    let stop = false;
    let written = 0;
    const writer = (async () => {
      while (!stop) {
        await pool.query(
          "INSERT INTO orders (customer_name, product_name) SELECT 'c', 'p' FROM generate_series(1, 20)",
        );
        written += 20;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await waitFor(() => consumer.messages.length >= 2_000, { what: 'traffic through the leader' });
    expect(b.logs.some((l) => l.msg === 'AMQP confirm channel open')).toBe(false);

    const killedAt = Date.now();
    const seenAtKill = consumer.messages.length;
    await a.kill('SIGKILL');
    await b.waitForLog({ msg: 'became leader' }, 5_000);
    await waitFor(() => consumer.messages.length > seenAtKill + 100, {
      timeoutMs: 5_000,
      what: 'the standby to publish',
    });
    const failoverMs = Date.now() - killedAt;
    expect(failoverMs).toBeLessThan(5_000);

    stop = true;
    await writer;
    await expectComplete(consumer, written);
    expect(await b.kill('SIGTERM')).toBe(0);
    await consumer.close();
  });
});

describe('retention', () => {
  it('deletes only published events older than the window', async () => {
    await bulkInsert(40, 40);
    // Batches of 5: 1–10 published 8 days ago; 11–20 published now; 21–30 numbered and stamped
    // 30 days ago but never confirmed (above the watermark); 31–40 not even numbered.
    await pool.query(`
      INSERT INTO order_event_batches (first_position, last_position, ids, published_at)
      SELECT f, f + 4, ARRAY(SELECT generate_series(f, f + 4)::bigint),
             CASE WHEN f <= 10 THEN now() - interval '8 days' WHEN f <= 20 THEN now()
                  ELSE now() - interval '30 days' END
      FROM generate_series(1, 26, 5) AS f`);
    await pool.query(
      "UPDATE order_events SET occurred_at = now() - interval '30 days' WHERE id BETWEEN 21 AND 30",
    );
    // The per-event exchange has reached position 5 only: retention waits for it too.
    await pool.query(
      'UPDATE bridge_state SET last_position = 30, confirmed_through = 20, events_confirmed_through = 5',
    );
    const cutoff = new Date(Date.now() - 7 * 86_400_000);
    expect(await deleteExpired(pool, cutoff)).toBe(5);
    await pool.query('UPDATE bridge_state SET events_confirmed_through = 20');
    expect(await deleteExpired(pool, cutoff)).toBe(5);
    const { rows } = await pool.query('SELECT id::int FROM order_events ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(range(40).slice(10));
    const batches = await pool.query('SELECT first_position::int AS f FROM order_event_batches ORDER BY 1');
    expect(batches.rows.map((r) => r.f)).toEqual([11, 16, 21, 26]);
    expect(await deleteExpired(pool, cutoff)).toBe(0);
  });
});
