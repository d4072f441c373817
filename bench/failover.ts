// failover: two bridges and one gateway process at 1,000 updates/s; the leading bridge is killed
// with SIGKILL three times (a fresh standby is started after each takeover). A raw AMQP consumer
// on the exchange sees what the bridges publish before the gateway dedupes it; a socket client
// sees what the gateway sends. Afterwards every position of the log is checked off.

import type pg from 'pg';
import type { BenchContext, Benchmark } from './lib/benchmark.js';
import { createRawConsumer, deleteExchange, type RawConsumer } from './lib/broker.js';
import { type ClientFleet, startClientFleet } from './lib/client-fleet.js';
import { type BenchDatabase, createBenchDatabase, SEED_ROWS } from './lib/database.js';
import { type OrdersLiveProcess, startOrdersLive } from './lib/orders-live.js';
import { runPacedWrites } from './lib/paced-writer.js';
import { metricValue, scrapeMetrics } from './lib/prometheus.js';
import { benchExchangeName } from './lib/settings.js';
import { fmt, fmtSpread, spread } from './lib/stats.js';
import { waitFor } from './lib/wait-for.js';

const RATE = 1_000;
const KILLS = 3;
/** Events that must reach the consumer between takeovers: a steady stream before each kill. */
const STEADY_EVENTS = 2_000;
const MAX_WRITE_MS = 120_000;

interface Takeover {
  /** kill → first message published by the new leader at the AMQP consumer. */
  publishMs: number;
  /** kill → the new leader's "became leader" log line. */
  lockMs: number;
  /** Repeats at the consumer from this kill to the next kill (or the end). */
  duplicates: number;
}

export const failover: Benchmark = {
  name: 'failover',
  title: 'kill -9 the leading bridge at 1,000 updates/s: takeover time, loss, duplicates',
  async run(ctx) {
    const rig = await setUp(ctx);
    const stopWriting = new AbortController();
    const writing = runPacedWrites({
      clients: rig.writers,
      rate: RATE,
      durationMs: MAX_WRITE_MS,
      rows: SEED_ROWS,
      maxRowsPerStatement: 10,
      onCommit: (keys, at) => rig.fleet.commit(keys, at),
      signal: stopWriting.signal,
    });
    let takeovers: Takeover[];
    try {
      takeovers = await killLeaders(ctx, rig);
    } finally {
      stopWriting.abort();
    }
    const writes = await writing;
    ctx.progress(`writers stopped after ${writes.events} events; checking every position`);
    return verify(ctx, rig, takeovers, writes.events);
  },
};

interface Rig {
  db: BenchDatabase;
  consumer: RawConsumer;
  /** Set at each kill; the consumer notes when the new leader's first message arrives. */
  watch: { killWall: number; firstAt?: number };
  bridges: OrdersLiveProcess[];
  startBridge(): Promise<OrdersLiveProcess>;
  fleet: ClientFleet;
  writers: pg.Client[];
}

async function setUp(ctx: BenchContext): Promise<Rig> {
  const db = await createBenchDatabase(ctx.settings, 'failover');
  ctx.defer(() => db.drop());
  const exchange = benchExchangeName('failover');
  ctx.defer(() => deleteExchange(ctx.settings.rabbitmqUrl, exchange));
  const watch: Rig['watch'] = { killWall: Number.POSITIVE_INFINITY };
  const consumer = await createRawConsumer(ctx.settings.rabbitmqUrl, exchange, (event, at) => {
    if (watch.firstAt === undefined && Date.parse(event.published_at ?? '') > watch.killWall)
      watch.firstAt = at;
  });
  ctx.defer(() => consumer.close());
  const common = { databaseUrl: db.url, rabbitmqUrl: ctx.settings.rabbitmqUrl, exchange };
  let serial = 0;
  const startBridge = async () => {
    const bridge = await startOrdersLive(ctx.processes, {
      ...common,
      name: `bridge ${++serial}`,
      roles: 'bridge',
    });
    ctx.defer(() => bridge.kill('SIGKILL'));
    return bridge;
  };
  ctx.progress('two bridges, a gateway (api,gateway), a raw AMQP consumer and a socket client');
  const bridges = [await startBridge()];
  await waitFor(() => isLeader(bridges[0]!), { what: 'bridge 1 to lead' });
  bridges.push(await startBridge());
  const gateway = await startOrdersLive(ctx.processes, { ...common, name: 'gateway', roles: 'api,gateway' });
  ctx.defer(() => gateway.kill());
  const fleet = await startClientFleet(ctx.processes, {
    name: 'failover client',
    url: gateway.url,
    count: 1,
    mode: 'envelope',
  });
  ctx.defer(() => fleet.close());
  const writers = [
    await db.connect('orders-live-bench-writer'),
    await db.connect('orders-live-bench-writer'),
  ];
  ctx.defer(() => Promise.all(writers.map((w) => w.end())));
  return { db, consumer, watch, bridges, startBridge, fleet, writers };
}

/** Kills the leader KILLS times, each after a steady stream, and starts a new standby each time. */
async function killLeaders(ctx: BenchContext, rig: Rig): Promise<Takeover[]> {
  const { consumer, bridges, watch } = rig;
  const takeovers: Takeover[] = [];
  const duplicatesAt: number[] = [];
  for (let kill = 1; kill <= KILLS; kill++) {
    await steady(consumer);
    const leader = await findLeader(bridges);
    duplicatesAt.push(consumer.duplicates);
    watch.firstAt = undefined;
    watch.killWall = Date.now();
    const killedAt = performance.now();
    await leader.kill('SIGKILL');
    bridges.splice(bridges.indexOf(leader), 1);
    const firstAt = await waitFor(() => watch.firstAt, {
      timeoutMs: 30_000,
      what: 'a message from the new leader',
    });
    const publishMs = firstAt - killedAt;
    const lockMs = await lockTakeover(bridges, watch.killWall);
    ctx.progress(
      `kill ${kill} (${leader.name}): new leader locked after ${fmt(lockMs, 0)} ms, published after ${fmt(publishMs, 0)} ms`,
    );
    bridges.push(await rig.startBridge());
    takeovers.push({ publishMs, lockMs, duplicates: 0 });
  }
  await steady(consumer);
  duplicatesAt.push(consumer.duplicates);
  takeovers.forEach((t, i) => {
    t.duplicates = duplicatesAt[i + 1]! - duplicatesAt[i]!;
  });
  return takeovers;
}

async function isLeader(bridge: OrdersLiveProcess): Promise<boolean> {
  return metricValue(await scrapeMetrics(bridge.url), 'orders_live_bridge_is_leader') === 1;
}

async function findLeader(bridges: OrdersLiveProcess[]): Promise<OrdersLiveProcess> {
  return waitFor(
    async () => {
      for (const b of bridges) if (await isLeader(b)) return b;
      return undefined;
    },
    { what: 'a leading bridge' },
  );
}

async function steady(consumer: RawConsumer): Promise<void> {
  const mark = consumer.total;
  await waitFor(() => consumer.total >= mark + STEADY_EVENTS, {
    timeoutMs: 30_000,
    what: `${STEADY_EVENTS} more messages`,
  });
}

/** When the surviving bridge logged "became leader", relative to the kill (both wall clock, ms). */
async function lockTakeover(bridges: OrdersLiveProcess[], killWall: number): Promise<number> {
  const line = await waitFor(
    () => bridges.flatMap((b) => b.logs).find((l) => l.msg === 'became leader' && Number(l.time) >= killWall),
    { what: '"became leader" after the kill' },
  );
  return Number(line.time) - killWall;
}

async function verify(ctx: BenchContext, rig: Rig, takeovers: Takeover[], committed: number) {
  const { db, consumer, fleet } = rig;
  await waitFor(
    async () => (await db.pool.query('SELECT 1 FROM order_events_backlog() WHERE events > 0')).rowCount === 0,
    { timeoutMs: 30_000, what: 'the log to be published' },
  );
  const { rows } = await db.pool.query<{ n: number; positioned: number; max: number | null }>(
    `SELECT (SELECT count(*) FROM order_events)::int AS n, (SELECT count(*) FROM order_event_log)::int AS positioned,
            (SELECT max(position) FROM order_event_log)::int AS max`,
  );
  const log = rows[0]!;
  const last = log.max ?? 0;
  await waitFor(() => consumer.positions.size >= last, {
    timeoutMs: 30_000,
    what: 'every position at the consumer',
  }).catch(() => undefined);
  const client = await fleet.waitDelivered(30_000).catch(() => fleet.status());
  const window = await fleet.collect();
  let lost = 0;
  for (let p = 1; p <= last; p++) if (!consumer.positions.has(p)) lost++;
  ctx.progress(
    `log ${log.n} events, positions 1..${last}; consumer lost ${lost}, duplicates ${consumer.duplicates}`,
  );
  const publish = spread(takeovers.map((t) => t.publishMs));
  const lock = spread(takeovers.map((t) => t.lockMs));
  const gapFree = log.n === committed && log.positioned === log.n && last === log.n;
  return {
    method: [
      `Two bridges (start --role bridge), one gateway (start --role api,gateway), default settings (LEADER_RETRY_MS 1000, BRIDGE_POLL_MS 1000); ${RATE} single-row updates/s from 2 paced connections throughout.`,
      `${KILLS} times: after ${STEADY_EVENTS} messages of steady traffic, the bridge whose /metrics says orders_live_bridge_is_leader 1 gets SIGKILL; a new standby is started after each takeover.`,
      'Takeover = kill → the first message at a raw AMQP consumer (exclusive queue bound with #) whose published_at is later than the kill (the new leader stamps it); lock = kill → the survivor\'s "became leader" log line.',
      'Lost = positions 1..max(position) of the log missing at the AMQP consumer; duplicates = repeated positions at that consumer (before the gateway); the socket client counts repeats and holes in what the gateway sent.',
    ],
    tables: [
      {
        title: 'Takeovers',
        columns: ['kill', 'lock acquired ms', 'publishing again ms', 'duplicates at AMQP'],
        rows: takeovers.map((t, i) => [
          String(i + 1),
          fmt(t.lockMs, 0),
          fmt(t.publishMs, 0),
          String(t.duplicates),
        ]),
      },
      {
        title: 'Every event accounted for',
        columns: ['figure', 'value'],
        rows: [
          ['events committed by the writers', String(committed)],
          ['events in the log / with a position / max position', `${log.n} / ${log.positioned} / ${last}`],
          ['lost (positions missing at the AMQP consumer)', String(lost)],
          ['duplicated before the gateway (AMQP repeats)', String(consumer.duplicates)],
          [
            'socket client: received / repeats / holes / still missing',
            `${window.latencies.length} / ${window.duplicates} / ${window.gaps} / ${client.pending}`,
          ],
        ],
      },
    ],
    targets: [
      { what: 'events lost', goal: '0', measured: String(lost), met: lost === 0 && gapFree },
      {
        what: 'repeats or holes at the socket client',
        goal: '0',
        measured: `${window.duplicates + window.gaps}`,
        met: window.duplicates + window.gaps === 0 && client.pending === 0,
      },
      {
        what: 'standby publishing again after kill -9',
        goal: 'within a few seconds (invariant 7)',
        measured: `${fmtSpread(publish, 0)} ms`,
        met: publish.max < 5_000,
      },
    ],
    notes: [
      `Lock takeover ${fmtSpread(lock, 0)} ms; the rest of "publishing again" is the new leader opening its AMQP channel, LISTEN and republishing what was unconfirmed.`,
    ],
    data: {
      takeovers,
      committed,
      log,
      lost,
      duplicates: consumer.duplicates,
      client: {
        window: { duplicates: window.duplicates, gaps: window.gaps, received: window.latencies.length },
        pending: client.pending,
      },
    },
  };
}
