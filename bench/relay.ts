// relay: the bridge alone against the floors of its parts, interleaved in one run. The bridge
// drains a backlog of 100,000 events (one bulk UPDATE, written while no bridge ran) twice per
// repetition: as deployed with gateways only (one queue consumes the gateways' feed, nothing is
// bound to the per-event exchange) and with one integration queue also consuming the per-event
// exchange. RabbitMQ's own ceiling is measured for exactly the messages the bridge sends in each
// case — one feed message per batch plus one message per event of the same size — from one
// confirm channel with 2,000 unconfirmed at most. An idle commit and a broker hop are the floors.

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
  gateways: 'gateways only (feed consumed, per-event exchange unbound)',
  integration: 'plus one integration queue consuming every per-event message',
};

export const relay: Benchmark = {
  name: 'relay',
  title: 'the bridge alone draining 100,000 events, against RabbitMQ’s confirmed-publish ceiling',
  async run(ctx) {
    const db = await createBenchDatabase(ctx.settings, 'relay');
    ctx.defer(() => db.drop());
    const repetitions = ctx.quick ? 1 : REPETITIONS;
    const bridgeRates: Record<Shape, number[]> = { gateways: [], integration: [] };
    const ceilingRates: Record<Shape, number[]> = { gateways: [], integration: [] };
    let messageBytes = 0;
    for (let rep = 1; rep <= repetitions; rep++) {
      for (const shape of SHAPES) {
        ctx.progress(
          `repetition ${rep}/${repetitions}, ${shape}: a backlog of ${fmt(SEED_ROWS, 0)} events, then the bridge`,
        );
        const exchange = benchExchangeName('relay');
        ctx.defer(() => deleteExchange(ctx.settings.rabbitmqUrl, exchange));
        bridgeRates[shape].push(await drainBacklog(ctx, db, exchange, shape));
        const sample = (await readPublished(db.pool, 0, 1))[0];
        messageBytes = Buffer.byteLength(JSON.stringify(sample));
        ctx.progress(
          `repetition ${rep}/${repetitions}, ${shape}: RabbitMQ ceiling with ${messageBytes}-byte messages`,
        );
        ceilingRates[shape].push(
          await confirmedPublishCeiling(ctx.settings.rabbitmqUrl, messageBytes, SEED_ROWS, shape),
        );
      }
    }
    ctx.progress('floors: an idle commit, a broker hop');
    const commit = summarizeLatency(await idleCommits(db));
    const hop = summarizeLatency(await brokerHops(ctx.settings.rabbitmqUrl, messageBytes));
    const range = (s: { median: number; min: number; max: number }, digits = 0) =>
      `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
    const ratios = (shape: Shape) => spread(bridgeRates[shape].map((r, i) => r / ceilingRates[shape][i]!));
    const rows: string[][] = [];
    for (const shape of SHAPES) {
      rows.push(
        [`${SHAPE_TITLE[shape]}: bridge, events/s`, range(spread(bridgeRates[shape]))],
        [`${SHAPE_TITLE[shape]}: RabbitMQ, events/s`, range(spread(ceilingRates[shape]))],
        [`${SHAPE_TITLE[shape]}: bridge ÷ RabbitMQ`, range(ratios(shape), 2)],
      );
    }
    rows.push(
      ['floor: idle commit p50 / p99 ms', `${fmt(commit.p50, 2)} / ${fmt(commit.p99, 2)}`],
      ['floor: broker hop p50 / p99 ms', `${fmt(hop.p50, 2)} / ${fmt(hop.p99, 2)}`],
    );
    return {
      method: [
        `Each repetition, for each shape: TRUNCATE order_events, one UPDATE of all ${fmt(SEED_ROWS, 0)} orders while no bridge runs, then \`start --role bridge\` on a fresh exchange; the rate is events ÷ the time from "became leader" to the exact backlog reaching 0 (polled every 50 ms).`,
        `Shapes: "gateways" — one queue consumes the gateways' feed (\`<exchange>.feed\`, one message per batch), as a gateway's; nothing is bound to the per-event exchange. "integration" — the same, plus one queue consuming every per-event message, as an integration's.`,
        `RabbitMQ's ceiling, per shape: one confirm channel sending what the bridge sends — per ${BATCH} events one feed message holding them (to a fanout exchange with one consumed queue), then ${BATCH} persistent messages of ${messageBytes} bytes (an envelope of this log) to a durable topic exchange, consumed or not as in the shape — ${fmt(SEED_ROWS, 0)} events in all, at most ${fmt(CEILING_WINDOW, 0)} unconfirmed, confirms counted in the callback; rate = events ÷ time to the last confirm.`,
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
        what: `bridge alone ÷ RabbitMQ confirmed-publish ceiling, ${shape}`,
        goal: `≥ ${TARGET_RATIO}×`,
        measured: `${range(ratios(shape), 2)}×`,
        met: ratios(shape).median >= TARGET_RATIO,
      })),
      notes: [],
      data: { bridgeRates, ceilingRates, messageBytes, commit, hop },
    };
  },
};

async function drainBacklog(
  ctx: Parameters<Benchmark['run']>[0],
  db: BenchDatabase,
  exchange: string,
  shape: Shape,
): Promise<number> {
  await db.pool.query('TRUNCATE order_events, order_event_batches');
  await db.pool.query(
    "UPDATE orders SET status = CASE WHEN status = 'shipped' THEN 'delivered' ELSE 'shipped' END",
  );
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
    await waitFor(
      async () => {
        const { rows } = await db.pool.query('SELECT events::int AS n FROM order_events_backlog()');
        return rows[0].n === 0;
      },
      { timeoutMs: 300_000, intervalMs: 50, what: 'the backlog to drain' },
    );
    return SEED_ROWS / ((performance.now() - started) / 1000);
  } finally {
    await bridge.kill();
  }
}

async function confirmedPublishCeiling(
  url: string,
  bytes: number,
  count: number,
  shape: Shape,
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
    // The feed message carries the batch as the bridge writes it: a JSON array of the envelopes.
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
    for (let i = 0; i < count; i++) {
      if (i % BATCH === 0) {
        channel.publish(names.feed, '', batchBody, { persistent: true }, onConfirm);
        sent++;
      }
      channel.publish(names.exchange, 'order.update.shipped', body, { persistent: true }, onConfirm);
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
