// relay: the bridge alone against the floors of its parts, interleaved in one run. The bridge
// drains a backlog of 100,000 events (one bulk UPDATE, written while no bridge ran); RabbitMQ's
// own ceiling is the rate of confirmed publishes of messages of the same size from one confirm
// channel with 2,000 unconfirmed at most; an idle commit and a broker hop are the latency floors.

import amqp from 'amqplib';
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

export const relay: Benchmark = {
  name: 'relay',
  title: 'the bridge alone draining 100,000 events, against RabbitMQ’s confirmed-publish ceiling',
  async run(ctx) {
    const db = await createBenchDatabase(ctx.settings, 'relay');
    ctx.defer(() => db.drop());
    const repetitions = ctx.quick ? 1 : REPETITIONS;
    const bridgeRates: number[] = [];
    const ceilingRates: number[] = [];
    let messageBytes = 0;
    for (let rep = 1; rep <= repetitions; rep++) {
      ctx.progress(
        `repetition ${rep}/${repetitions}: a backlog of ${fmt(SEED_ROWS, 0)} events, then the bridge`,
      );
      const exchange = benchExchangeName('relay');
      ctx.defer(() => deleteExchange(ctx.settings.rabbitmqUrl, exchange));
      bridgeRates.push(await drainBacklog(ctx, db, exchange));
      const sample = (await readPublished(db.pool, 0, 1))[0];
      messageBytes = Buffer.byteLength(JSON.stringify(sample));
      ctx.progress(`repetition ${rep}/${repetitions}: RabbitMQ ceiling with ${messageBytes}-byte messages`);
      ceilingRates.push(await confirmedPublishCeiling(ctx.settings.rabbitmqUrl, messageBytes, SEED_ROWS));
    }
    ctx.progress('floors: an idle commit, a broker hop');
    const commit = summarizeLatency(await idleCommits(db));
    const hop = summarizeLatency(await brokerHops(ctx.settings.rabbitmqUrl, messageBytes));
    const bridge = spread(bridgeRates);
    const ceiling = spread(ceilingRates);
    const ratios = spread(bridgeRates.map((r, i) => r / ceilingRates[i]!));
    const range = (s: { median: number; min: number; max: number }, digits = 0) =>
      `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
    return {
      method: [
        `Each repetition: TRUNCATE order_events, one UPDATE of all ${fmt(SEED_ROWS, 0)} orders while no bridge runs, then \`start --role bridge\` on a fresh exchange; the rate is events ÷ the time from "became leader" to the exact backlog reaching 0 (polled every 50 ms).`,
        `RabbitMQ's ceiling: one confirm channel on a durable topic exchange with one transient queue bound and consumed (as a gateway's), ${fmt(SEED_ROWS, 0)} persistent messages of ${messageBytes} bytes (an envelope of this log), at most ${fmt(CEILING_WINDOW, 0)} unconfirmed, confirms counted in the callback; rate = messages ÷ time to the last confirm. The bridge's exchange has the same one consuming queue bound.`,
        `Floors, ${FLOOR_SAMPLES} samples each: an autocommit single-row UPDATE on an idle database; a publish → consume round trip of one such message (no confirms).`,
      ],
      tables: [
        {
          title: 'Relay against its parts: median (min–max) over the repetitions',
          columns: ['figure', 'value'],
          rows: [
            ['bridge alone, events/s', range(bridge)],
            ['RabbitMQ confirmed publishes/s (same message size)', range(ceiling)],
            ['bridge ÷ RabbitMQ', range(ratios, 2)],
            ['floor: idle commit p50 / p99 ms', `${fmt(commit.p50, 2)} / ${fmt(commit.p99, 2)}`],
            ['floor: broker hop p50 / p99 ms', `${fmt(hop.p50, 2)} / ${fmt(hop.p99, 2)}`],
          ],
        },
      ],
      targets: [
        {
          what: 'bridge alone ÷ RabbitMQ confirmed-publish ceiling',
          goal: `≥ ${TARGET_RATIO}×`,
          measured: `${range(ratios, 2)}×`,
          met: ratios.median >= TARGET_RATIO,
        },
      ],
      notes: [],
      data: { bridgeRates, ceilingRates, messageBytes, commit, hop },
    };
  },
};

async function drainBacklog(
  ctx: Parameters<Benchmark['run']>[0],
  db: BenchDatabase,
  exchange: string,
): Promise<number> {
  await db.pool.query('TRUNCATE order_events');
  await db.pool.query(
    "UPDATE orders SET status = CASE WHEN status = 'shipped' THEN 'delivered' ELSE 'shipped' END",
  );
  // One consuming queue bound, as a gateway's: the broker routes and delivers every message.
  const consumer = await createRawConsumer(ctx.settings.rabbitmqUrl, exchange);
  ctx.defer(() => consumer.close());
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

async function confirmedPublishCeiling(url: string, bytes: number, count: number): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const exchange = benchExchangeName('ceiling');
    await channel.assertExchange(exchange, 'topic', { durable: true, autoDelete: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchange, '#');
    await channel.consume(queue, () => undefined, { noAck: true });
    const body = Buffer.alloc(bytes, 'x');
    // Confirms are counted in the callback, without a promise per message: what is measured is
    // the broker and the protocol, not the client's bookkeeping. At most CEILING_WINDOW wait.
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
      channel.publish(exchange, 'order.update.shipped', body, { persistent: true }, onConfirm);
      if (i + 1 - confirmed >= CEILING_WINDOW) await until(() => i + 1 - confirmed < CEILING_WINDOW);
    }
    await until(() => confirmed === count);
    if (failed) throw failed;
    const rate = count / ((performance.now() - started) / 1000);
    await channel.deleteQueue(queue);
    await channel.deleteExchange(exchange);
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
