// relay: the bridge alone against the floors of its parts, interleaved in one run. The bridge
// drains a backlog of 100,000 events (one bulk UPDATE, written while no bridge ran) twice per
// repetition: as deployed with gateways only (one queue consumes the gateways' feed, nothing is
// bound to the per-event exchange) and with one integration queue also consuming the per-event
// exchange. Two rates each time: the feed (the gateways' path: the backlog reaching 0) and the
// per-event exchange (its own cursor reaching the end). RabbitMQ's own ceilings are measured for
// the same messages — the per-event one with the same message size and the same binding, the
// feed's with batches of the same size — from one confirm channel with 2,000 unconfirmed at most.
// An idle commit and a broker hop are the floors.

import amqp from 'amqplib';
import { amqpNames } from '../src/contract/events.js';
import { readPublished } from '../src/db/event-log.js';
import type { Benchmark } from './lib/benchmark.js';
import { createRawConsumer, deleteExchange } from './lib/broker.js';
import { type BenchDatabase, createBenchDatabase, SEED_ROWS } from './lib/database.js';
import { startOrdersLive } from './lib/orders-live.js';
import { benchExchangeName } from './lib/settings.js';
import { fmt, spread, summarizeLatency } from './lib/stats.js';
import { waitFor } from './lib/wait-for.js';

const REPETITIONS = 3;
const CEILING_WINDOW = 2_000;
const FLOOR_SAMPLES = 300;
const TARGET_RATIO = 0.8;
/** The bridge's batches under a backlog: BRIDGE_BATCH_SIZE's default. */
const BATCH = 500;

type Shape = 'gateways' | 'integration';
const SHAPES: readonly Shape[] = ['gateways', 'integration'];
const SHAPE_TITLE: Record<Shape, string> = {
  gateways: 'gateways only',
  integration: 'plus one integration queue',
};

interface Rates {
  feed: number[];
  events: number[];
  /** The per-event exchange's rate once the feed had finished (it waits for the feed first). */
  eventsAfterFeed: number[];
  feedCeiling: number[];
  eventsCeiling: number[];
}

export const relay: Benchmark = {
  name: 'relay',
  title: 'the bridge alone draining 100,000 events, against RabbitMQ’s confirmed-publish ceiling',
  async run(ctx) {
    const db = await createBenchDatabase(ctx.settings, 'relay');
    ctx.defer(() => db.drop());
    const repetitions = ctx.quick ? 1 : REPETITIONS;
    const rates: Record<Shape, Rates> = {
      gateways: { feed: [], events: [], eventsAfterFeed: [], feedCeiling: [], eventsCeiling: [] },
      integration: { feed: [], events: [], eventsAfterFeed: [], feedCeiling: [], eventsCeiling: [] },
    };
    let messageBytes = 0;
    for (let rep = 1; rep <= repetitions; rep++) {
      for (const shape of SHAPES) {
        ctx.progress(
          `repetition ${rep}/${repetitions}, ${shape}: a backlog of ${fmt(SEED_ROWS, 0)} events, then the bridge`,
        );
        const exchange = benchExchangeName('relay');
        ctx.defer(() => deleteExchange(ctx.settings.rabbitmqUrl, exchange));
        const drained = await drainBacklog(ctx, db, exchange, shape);
        rates[shape].feed.push(drained.feed);
        rates[shape].events.push(drained.events);
        rates[shape].eventsAfterFeed.push(drained.eventsAfterFeed);
        const sample = (await readPublished(db.pool, 0, 1))[0];
        messageBytes = Buffer.byteLength(JSON.stringify(sample));
        ctx.progress(
          `repetition ${rep}/${repetitions}, ${shape}: RabbitMQ ceilings with ${messageBytes}-byte messages`,
        );
        const url = ctx.settings.rabbitmqUrl;
        rates[shape].eventsCeiling.push(
          await confirmedPublishCeiling(url, messageBytes, SEED_ROWS, shape, 'events'),
        );
        rates[shape].feedCeiling.push(
          await confirmedPublishCeiling(url, messageBytes, SEED_ROWS, shape, 'feed'),
        );
      }
    }
    ctx.progress('floors: an idle commit, a broker hop');
    const commit = summarizeLatency(await idleCommits(db));
    const hop = summarizeLatency(await brokerHops(ctx.settings.rabbitmqUrl, messageBytes));
    const range = (s: { median: number; min: number; max: number }, digits = 0) =>
      `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
    const ratio = (a: number[], b: number[]) => spread(a.map((r, i) => r / b[i]!));
    const rows: string[][] = [];
    for (const shape of SHAPES) {
      const r = rates[shape];
      rows.push(
        [`${SHAPE_TITLE[shape]}: feed (gateways), events/s`, range(spread(r.feed))],
        [`${SHAPE_TITLE[shape]}: RabbitMQ, feed messages, events/s`, range(spread(r.feedCeiling))],
        [`${SHAPE_TITLE[shape]}: per-event exchange, events/s`, range(spread(r.events))],
        [`${SHAPE_TITLE[shape]}: RabbitMQ, per-event messages, events/s`, range(spread(r.eventsCeiling))],
        [`${SHAPE_TITLE[shape]}: per-event exchange ÷ RabbitMQ`, range(ratio(r.events, r.eventsCeiling), 2)],
        [
          `${SHAPE_TITLE[shape]}: per-event exchange after the feed finished, events/s`,
          range(spread(r.eventsAfterFeed)),
        ],
        [
          `${SHAPE_TITLE[shape]}: per-event exchange after the feed finished ÷ RabbitMQ`,
          range(ratio(r.eventsAfterFeed, r.eventsCeiling), 2),
        ],
      );
    }
    rows.push(
      ['floor: idle commit p50 / p99 ms', `${fmt(commit.p50, 2)} / ${fmt(commit.p99, 2)}`],
      ['floor: broker hop p50 / p99 ms', `${fmt(hop.p50, 2)} / ${fmt(hop.p99, 2)}`],
    );
    return {
      method: [
        `Each repetition, for each shape: TRUNCATE the log, one UPDATE of all ${fmt(SEED_ROWS, 0)} orders while no bridge runs, then \`start --role bridge\` on a fresh exchange. From "became leader": the feed's rate is events ÷ the time until the exact backlog is 0 (every event confirmed on the gateways' feed); the per-event exchange's rate is events ÷ the time until \`bridge_state.events_confirmed_through\` reaches the last position (polled every 50 ms). It waits while the feed has a backlog, so "after the feed finished" is the events it confirmed after the feed's backlog reached 0 ÷ the time from then.`,
        `Shapes: "gateways only" — one queue consumes the gateways' feed (\`<exchange>.feed\`), as a gateway's; nothing is bound to the per-event exchange. "plus one integration queue" — the same, plus one queue consuming every per-event message.`,
        `RabbitMQ's ceilings, per shape, from one confirm channel with at most ${fmt(CEILING_WINDOW, 0)} unconfirmed, confirms counted in the callback, ${fmt(SEED_ROWS, 0)} events: per-event — persistent messages of ${messageBytes} bytes (an envelope of this log) to a durable topic exchange, consumed or not as in the shape; feed — one persistent message per ${BATCH} events (their size) to a fanout exchange with one consumed queue. Rate = events ÷ time to the last confirm.`,
        `Floors, ${FLOOR_SAMPLES} samples each: an autocommit single-row UPDATE on an idle database; a publish → consume round trip of one such message (no confirms).`,
      ],
      tables: [
        {
          title: 'Relay against its parts: median (min–max) over the repetitions',
          columns: ['figure', 'value'],
          rows,
        },
      ],
      targets: SHAPES.map((shape) => ({
        what: `per-event exchange ÷ RabbitMQ's per-event ceiling, ${SHAPE_TITLE[shape]}`,
        goal: `≥ ${TARGET_RATIO}×`,
        measured: `${range(ratio(rates[shape].events, rates[shape].eventsCeiling), 2)}×`,
        met: ratio(rates[shape].events, rates[shape].eventsCeiling).median >= TARGET_RATIO,
      })),
      notes: [],
      data: { rates, messageBytes, commit, hop },
    };
  },
};

async function drainBacklog(
  ctx: Parameters<Benchmark['run']>[0],
  db: BenchDatabase,
  exchange: string,
  shape: Shape,
): Promise<{ feed: number; events: number; eventsAfterFeed: number }> {
  await db.pool.query('TRUNCATE order_events, order_event_batches');
  await db.pool.query(
    "UPDATE orders SET status = CASE WHEN status = 'shipped' THEN 'delivered' ELSE 'shipped' END",
  );
  const base = Number((await db.pool.query('SELECT last_position FROM bridge_state')).rows[0].last_position);
  // The gateways' feed is always consumed: the broker routes and delivers every batch.
  const gateway = await createRawConsumer(ctx.settings.rabbitmqUrl, exchange, undefined, { feed: true });
  ctx.defer(() => gateway.close());
  if (shape === 'integration') {
    const integration = await createRawConsumer(ctx.settings.rabbitmqUrl, exchange);
    ctx.defer(() => integration.close());
  }
  const bridge = await startOrdersLive(ctx.processes, {
    name: 'relay bridge',
    databaseUrl: db.url,
    rabbitmqUrl: ctx.settings.rabbitmqUrl,
    exchange,
    roles: 'bridge',
    waitReady: false,
  });
  try {
    await bridge.waitForLog((l) => l.msg === 'became leader', 'the "became leader" line');
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let feed = 0;
    let feedDone = { at: 0, eventsDone: 0 };
    await waitFor(
      async () => {
        const { rows } = await db.pool.query(
          `SELECT (SELECT events FROM order_events_backlog())::int AS backlog,
                  last_position >= (SELECT max(last_position) FROM order_event_batches)
                    AND events_confirmed_through = last_position AS events_done,
                  events_confirmed_through::float8 AS events_confirmed
           FROM bridge_state`,
        );
        if (feed === 0 && rows[0].backlog === 0) {
          feed = SEED_ROWS / seconds();
          feedDone = { at: seconds(), eventsDone: Math.max(0, rows[0].events_confirmed - base) };
        }
        return feed > 0 && rows[0].events_done === true;
      },
      { timeoutMs: 300_000, intervalMs: 50, what: 'the backlog to drain on the feed and the exchange' },
    );
    const total = seconds();
    return {
      feed,
      events: SEED_ROWS / total,
      eventsAfterFeed: (SEED_ROWS - feedDone.eventsDone) / Math.max(total - feedDone.at, 1e-3),
    };
  } finally {
    await bridge.kill();
  }
}

async function confirmedPublishCeiling(
  url: string,
  bytes: number,
  count: number,
  shape: Shape,
  kind: 'events' | 'feed',
): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const names = amqpNames(benchExchangeName('ceiling'));
    await channel.assertExchange(names.exchange, 'topic', { durable: true, autoDelete: true });
    await channel.assertExchange(names.feed, 'fanout', { durable: true, autoDelete: true });
    const queues: string[] = [];
    const consume = async (exchange: string, pattern: string) => {
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, exchange, pattern);
      await channel.consume(queue, () => undefined, { noAck: true });
      queues.push(queue);
    };
    await consume(names.feed, '');
    if (shape === 'integration') await consume(names.exchange, '#');
    const body = Buffer.alloc(bytes, 'x');
    // A feed message carries a batch as the bridge writes it: a JSON array of the envelopes.
    const batchBody = Buffer.alloc(BATCH * (bytes + 1) + 1, 'x');
    // Confirms are counted in the callback, without a promise per message: what is measured is
    // the broker and the protocol, not the client's bookkeeping. At most CEILING_WINDOW wait.
    let sent = 0;
    let confirmed = 0;
    let failed: unknown;
    let wake: (() => void) | undefined;
    const onConfirm = (err: unknown) => {
      if (err) failed ??= err;
      confirmed++;
      wake?.();
    };
    const until = (done: () => boolean) =>
      new Promise<void>((resolve) => {
        wake = () => {
          if (done() || failed) resolve();
        };
        wake();
      });
    const started = performance.now();
    const step = kind === 'feed' ? BATCH : 1;
    for (let i = 0; i < count; i += step) {
      if (kind === 'feed') channel.publish(names.feed, '', batchBody, { persistent: true }, onConfirm);
      else channel.publish(names.exchange, 'order.update.shipped', body, { persistent: true }, onConfirm);
      sent++;
      if (sent - confirmed >= CEILING_WINDOW) await until(() => sent - confirmed < CEILING_WINDOW);
    }
    await until(() => confirmed === sent);
    if (failed) throw failed;
    const rate = count / ((performance.now() - started) / 1000);
    for (const queue of queues) await channel.deleteQueue(queue);
    await channel.deleteExchange(names.feed);
    await channel.deleteExchange(names.exchange);
    return rate;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function idleCommits(db: BenchDatabase): Promise<number[]> {
  const client = await db.connect('orders-live-bench-floor');
  try {
    const samples: number[] = [];
    for (let i = 0; i < FLOOR_SAMPLES; i++) {
      const started = performance.now();
      await client.query("UPDATE orders SET status = 'processing' WHERE id = 1");
      samples.push(performance.now() - started);
    }
    return samples;
  } finally {
    await client.end();
  }
}

async function brokerHops(url: string, bytes: number): Promise<number[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    const body = Buffer.alloc(bytes, 'x');
    const samples: number[] = [];
    let arrived: (() => void) | undefined;
    await channel.consume(queue, () => arrived?.(), { noAck: true });
    for (let i = 0; i < FLOOR_SAMPLES; i++) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        arrived = resolve;
        channel.sendToQueue(queue, body);
      });
      samples.push(performance.now() - started);
    }
    return samples;
  } finally {
    await connection.close().catch(() => undefined);
  }
}
