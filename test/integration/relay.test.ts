// The relay's order across a failure, on the real change log: a batch read while an earlier
// batch's publish fails is not handed to the publisher — it would reach RabbitMQ ahead of that
// batch's republishing. (A stand-in for our own Publisher interface decides when the first batch
// fails: exactly while the relay reads the second.) Also on the real log: a batch whose events
// the log lost still moves the watermark, and the per-event relay publishes what the feed just
// published from memory, reading from the log only what is no longer kept, and takes its next
// steps while earlier ones wait for confirms only as far as it is allowed.

import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventRelay } from '../../src/bridge/event-relay.js';
import { createFeedLog, type FeedLog } from '../../src/bridge/feed-log.js';
import type { Publisher } from '../../src/bridge/publisher.js';
import { createRecentEvents } from '../../src/bridge/recent-events.js';
import { createRelay, NUMBER_SQL, type Relay, type RelayOptions } from '../../src/bridge/relay.js';
import { createWatermarkWriter } from '../../src/bridge/watermark.js';
import { type RawEvent, readRawRange } from '../../src/db/event-log.js';
import { useTestDatabase } from '../helpers/db.js';
import { fakePublisher } from '../helpers/fake-publisher.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
let pool: pg.Pool;
let client: pg.PoolClient;

beforeAll(async () => {
  pool = db.pool({ application_name: 'orders-live-bridge' });
  client = await pool.connect();
  await pool.query(
    "INSERT INTO orders (customer_name, product_name) SELECT 'c' || i, 'p' FROM generate_series(1, 30) i",
  );
});
afterAll(async () => {
  client?.release();
  await pool?.end();
});

/** A feed relay whose watermark goes to the test database, as the bridge's does. */
function feedRelay(options: Omit<RelayOptions, 'watermark' | 'lingerMs'>): Relay {
  return createRelay({
    lingerMs: 0,
    watermark: createWatermarkWriter(pool, (e) => {
      throw e;
    }).of('confirmed_through'),
    ...options,
  });
}

/** One drain on the test's connection, its confirms awaited and its watermark written. */
async function drainFeed(relay: Relay, log: FeedLog = createFeedLog(client)): Promise<number> {
  const handed = await relay.drain(log, new AbortController().signal);
  await relay.settle(5_000);
  return handed;
}

describe('createRelay', () => {
  it('hands no batch to the publisher once an earlier batch has failed', async () => {
    const handedOver: number[][] = [];
    let failSecond: (() => void) | undefined;
    const publisher = fakePublisher((events: readonly RawEvent[]) => {
      handedOver.push(events.map((e) => e.position));
      if (handedOver.length !== 2) return Promise.resolve();
      return new Promise<void>((_, reject) => {
        failSecond = () => reject(new Error('the connection closed'));
      });
    });
    const { rows } = await pool.query('SELECT last_position::int AS p FROM bridge_state');
    const start = rows[0].p as number;
    // One numbering makes three batches of 10 of the 30 orders written before, and reads the first
    // two (a window of two); the first is confirmed, the second fails while the relay reads the
    // third.
    let reads = 0;
    const hooked = createFeedLog({
      query(...args: unknown[]) {
        const config = args[0] as { name?: string } | undefined;
        if (config?.name === 'orders-live-read-numbered' && ++reads === 2) failSecond?.();
        return (client.query as (...a: unknown[]) => unknown).apply(client, args);
      },
    } as unknown as pg.Client);

    const relay = feedRelay({ publisher, batchSize: 10, capacity: 2 });
    await expect(relay.drain(hooked, new AbortController().signal)).rejects.toThrow('the connection closed');
    expect(reads).toBe(2);
    expect(handedOver).toEqual([range(start + 1, start + 10), range(start + 11, start + 20)]);

    // Starting over from the watermark (the first batch is confirmed): the cut-off batch first,
    // then the one held back.
    await expect(drainFeed(relay)).resolves.toBe(20);
    expect(handedOver.slice(2).flat()).toEqual(range(start + 11, start + 30));
  });
});

function recordingPublisher(into: RawEvent[][]): Publisher {
  return fakePublisher(async (events: readonly RawEvent[]) => {
    into.push([...events]);
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('createRelay on a log that lost events', () => {
  it('moves the watermark past a batch whose events were deleted, and publishes what follows', async () => {
    const handedOver: RawEvent[][] = [];
    const relay = feedRelay({ publisher: recordingPublisher(handedOver), batchSize: 10 });
    await drainFeed(relay);
    const { rows } = await pool.query('SELECT last_position::int AS p FROM bridge_state');
    const start = rows[0].p;
    await pool.query(
      "INSERT INTO orders (customer_name, product_name) SELECT 'd' || i, 'p' FROM generate_series(1, 20) i",
    );
    // Numbered, then the last five rows of the second batch of ten vanish before it is published.
    const numbered = await pool.query(NUMBER_SQL, [10, new Date().toISOString()]);
    expect(numbered.rows).toHaveLength(2);
    await pool.query('DELETE FROM order_events WHERE id IN (SELECT id FROM order_event_positions($1, $2))', [
      start + 16,
      start + 20,
    ]);
    relay.recover();
    handedOver.length = 0;
    await expect(drainFeed(relay)).resolves.toBe(15);
    expect(handedOver.flat().map((e) => e.position)).toEqual(range(start + 1, start + 15));
    const state = await pool.query('SELECT confirmed_through::int AS c FROM bridge_state');
    expect(state.rows[0].c).toBe(start + 20);
    // Nothing is left to republish.
    await expect(drainFeed(relay)).resolves.toBe(0);
  });
});

describe('createEventRelay with what the feed just published', () => {
  it('publishes the kept envelopes without reading the log again, and reads what is not kept', async () => {
    const signal = new AbortController().signal;
    await drainFeed(feedRelay({ publisher: recordingPublisher([]), batchSize: 10 }));
    await pool.query('UPDATE bridge_state SET events_confirmed_through = last_position');
    const { rows } = await pool.query('SELECT last_position::int AS p FROM bridge_state');
    const start = rows[0].p as number;
    await pool.query(
      "INSERT INTO orders (customer_name, product_name) SELECT 'e' || i, 'p' FROM generate_series(1, 25) i",
    );
    // The feed publishes 25 events in batches of 10; only the last two batches stay kept.
    const recent = createRecentEvents(15);
    const feed = feedRelay({
      publisher: recordingPublisher([]),
      batchSize: 10,
      onPublished: (events) => recent.add(events),
    });
    await expect(drainFeed(feed)).resolves.toBe(25);

    const reads: [number, number][] = [];
    const counted = {
      query(...args: unknown[]) {
        const config = args[0] as { name?: string; values?: number[] };
        if (config?.name === 'orders-live-read-range') reads.push([config.values![0]!, config.values![1]!]);
        return (pool.query as (...a: unknown[]) => unknown).apply(pool, args);
      },
    } as unknown as pg.Pool;
    const published: RawEvent[][] = [];
    const eventRelay = createEventRelay({ publisher: recordingPublisher(published), step: 10, recent });
    await expect(eventRelay.drain(counted, signal)).resolves.toEqual({ published: 25, behind: 0 });
    // The first batch had been dropped (capacity 15): read from the log; the rest came from memory.
    expect(reads).toEqual([[start + 1, start + 10]]);
    expect(published.flat()).toEqual(await readRawRange(client, start + 1, start + 25));
    expect(recent.size).toBe(0);
  });
});

describe('createEventRelay with steps in flight', () => {
  /** 20 new events, numbered and published by the feed; the per-event cursor just below them. */
  async function twentyFeedEvents(): Promise<number> {
    await drainFeed(feedRelay({ publisher: recordingPublisher([]), batchSize: 10 }));
    await pool.query('UPDATE bridge_state SET events_confirmed_through = last_position');
    const start = (await pool.query('SELECT last_position::int AS p FROM bridge_state')).rows[0].p as number;
    await pool.query(
      "INSERT INTO orders (customer_name, product_name) SELECT 'f' || i, 'p' FROM generate_series(1, 20) i",
    );
    await drainFeed(feedRelay({ publisher: recordingPublisher([]), batchSize: 10 }));
    return start;
  }

  /** A publisher whose confirms the test gives, step by step, in an order it chooses. */
  function heldPublisher(): { publisher: Publisher; steps: { positions: number[]; confirm: () => void }[] } {
    const steps: { positions: number[]; confirm: () => void }[] = [];
    const publisher = fakePublisher(
      (events) =>
        new Promise<void>((resolve) => {
          steps.push({ positions: events.map((e) => e.position), confirm: resolve });
        }),
    );
    return { publisher, steps };
  }

  /**
   * The pool, recording each watermark write and each read of the log when the relay issues it
   * (before PostgreSQL has it).
   */
  function markRecording(marks: number[], reads: number[] = []): pg.Pool {
    return {
      query(...args: unknown[]) {
        const mark = /greatest\(events_confirmed_through, (\d+)\)/.exec(String(args[0]));
        if (mark) marks.push(Number(mark[1]));
        const config = args[0] as { name?: string; values?: number[] };
        if (config?.name === 'orders-live-read-range') reads.push(config.values![0]!);
        return (pool.query as (...a: unknown[]) => unknown).apply(pool, args);
      },
    } as unknown as pg.Pool;
  }

  const cursor = async () =>
    (await pool.query('SELECT events_confirmed_through::int AS c FROM bridge_state')).rows[0].c as number;

  it('publishes the next step while one is unconfirmed, and moves its cursor over confirmed steps in order only', async () => {
    const signal = new AbortController().signal;
    const start = await twentyFeedEvents();
    const { publisher, steps } = heldPublisher();
    const marks: number[] = [];
    const drained = createEventRelay({ publisher, step: 10, stepsInFlight: () => 3 }).drain(
      markRecording(marks),
      signal,
    );

    await waitFor(() => steps.length === 2, { what: 'both steps handed over before any confirm' });
    expect(steps.map((s) => s.positions)).toEqual([
      range(start + 1, start + 10),
      range(start + 11, start + 20),
    ]);
    steps[1]!.confirm();
    // The second step is confirmed, the first is not. Whatever the relay does on that confirm it
    // does in the microtasks that follow it, all run before this immediate: it must not move the
    // cursor.
    await new Promise((resolve) => setImmediate(resolve));
    expect(marks).toEqual([]);
    expect(await cursor()).toBe(start);
    steps[0]!.confirm();
    await expect(drained).resolves.toEqual({ published: 20, behind: 0 });
    expect(marks).toEqual([start + 10, start + 20]);
    expect(await cursor()).toBe(start + 20);
  });

  it('takes no step while one is unconfirmed when one step at a time is allowed (the feed is busy)', async () => {
    const signal = new AbortController().signal;
    const start = await twentyFeedEvents();
    const { publisher, steps } = heldPublisher();
    const marks: number[] = [];
    const reads: number[] = [];
    let allowed = 1;
    const drained = createEventRelay({ publisher, step: 10, stepsInFlight: () => allowed }).drain(
      markRecording(marks, reads),
      signal,
    );

    await waitFor(() => steps.length === 1, { what: 'the first step handed over' });
    // Allowed another step, the relay would have asked the log for it in the microtasks that
    // followed handing over the first.
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toEqual([start + 1]);
    expect(steps).toHaveLength(1);
    steps[0]!.confirm();
    await waitFor(() => steps.length === 2, { what: 'the second step, after the first was confirmed' });
    expect(marks).toEqual([start + 10]);
    allowed = 3;
    steps[1]!.confirm();
    await expect(drained).resolves.toEqual({ published: 20, behind: 0 });
    expect(await cursor()).toBe(start + 20);
  });
});
