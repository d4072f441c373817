// capture-cost: what capture costs the writer. pgbench runs single-row UPDATEs on a 100k-row
// orders table at 1 and 8 connections against six variants of the capture, each in its own
// database, interleaved (every repetition runs every variant once, in turn) so that drift in the
// machine's load hits all variants alike; ratios are taken within a repetition. Then one bulk
// UPDATE of all rows per variant, timed the same way.

import type pg from 'pg';
import type { BenchContext, Benchmark, BenchOutput } from './lib/benchmark.js';
import { deleteExchange } from './lib/broker.js';
import { CAPTURE_VARIANTS, type CaptureVariant } from './lib/capture-variants.js';
import { type BenchDatabase, createBenchDatabase, SEED_ROWS, waitForPipelineIdle } from './lib/database.js';
import { type OrdersLiveProcess, startOrdersLive } from './lib/orders-live.js';
import { runPgbench } from './lib/pgbench.js';
import { sampleProc } from './lib/proc-stats.js';
import { metricValue, scrapeMetrics } from './lib/prometheus.js';
import { medianTarget } from './lib/report.js';
import { benchExchangeName } from './lib/settings.js';
import { fmt, fmtSpread, ratioSpread, type Spread, spread } from './lib/stats.js';
import { waitFor } from './lib/wait-for.js';

const REPETITIONS = 3;
const WRITERS = [1, 8] as const;
const PGBENCH_SECONDS = 5;
const QUICK_PGBENCH_SECONDS = 2;
/**
 * Variants whose bulk UPDATE is timed: without capture, and with the log and its one NOTIFY (what
 * ships; (e) would add a bridge publishing 100k events meanwhile). Each takes seconds, plus a
 * VACUUM of 100k dead rows after it, so the others are left out to keep the suite under 10 min.
 */
const BULK_VARIANTS = ['a', 'd'];

const PGBENCH_SCRIPT = `\\set id random(1, ${SEED_ROWS})
UPDATE orders SET status = CASE WHEN status = 'pending' THEN 'processing' ELSE 'pending' END WHERE id = :id;
`;
const BULK_SQL =
  "UPDATE orders SET status = CASE WHEN status = 'pending' THEN 'processing' ELSE 'pending' END";

interface Setup {
  variant: CaptureVariant;
  db: BenchDatabase;
  bridge?: OrdersLiveProcess;
}

interface Run {
  variant: string;
  writers: number;
  repetition: number;
  tps: number;
  latencyMs: number;
  failed: number;
  /** (e) only: events the bridge confirmed during and after the run, and how long it took to drain. */
  published?: number;
  drainMs?: number;
  /** The same, until the per-event exchange had caught up too. */
  eventsDrainMs?: number;
  /** (e) only: CPU of the bridge process and of its PostgreSQL backends during pgbench, in cores. */
  bridgeCpuCores?: number;
  bridgeBackendsCpuCores?: number;
}

export const captureCost: Benchmark = {
  name: 'capture-cost',
  title: 'what capture costs a writer (pgbench, single-row UPDATE, 100k rows)',
  async run(ctx) {
    const seconds = ctx.quick ? QUICK_PGBENCH_SECONDS : PGBENCH_SECONDS;
    const setups: Setup[] = [];
    for (const variant of CAPTURE_VARIANTS) setups.push(await prepare(ctx, variant));
    const runs: Run[] = [];
    for (let repetition = 1; repetition <= REPETITIONS; repetition++) {
      for (const writers of WRITERS) {
        for (const setup of setups) {
          const run = await measure(setup, writers, seconds, repetition);
          ctx.progress(`rep ${repetition} (${setup.variant.id}) ${writers} writer(s): ${fmt(run.tps)} tps`);
          runs.push(run);
        }
      }
    }
    const bulk: { variant: string; repetition: number; seconds: number }[] = [];
    for (let repetition = 1; repetition <= REPETITIONS; repetition++) {
      for (const setup of setups.filter((s) => BULK_VARIANTS.includes(s.variant.id))) {
        const s = await timeBulk(setup);
        ctx.progress(`bulk rep ${repetition} (${setup.variant.id}): ${fmt(s, 3)} s`);
        bulk.push({ variant: setup.variant.id, repetition, seconds: s });
      }
    }
    return report(runs, bulk, seconds);
  },
};

async function prepare(ctx: BenchContext, variant: CaptureVariant): Promise<Setup> {
  ctx.progress(`(${variant.id}) database: create, migrate, seed ${SEED_ROWS} rows, alter`);
  const db = await createBenchDatabase(ctx.settings, `capture_cost_${variant.id}`);
  ctx.defer(() => db.drop());
  for (const sql of variant.alter) await db.pool.query(sql);
  if (!variant.bridge) return { variant, db };
  const exchange = benchExchangeName('capture-cost');
  ctx.defer(() => deleteExchange(ctx.settings.rabbitmqUrl, exchange));
  ctx.progress(`(${variant.id}) starting a bridge (start --role bridge --port 0)`);
  const bridge = await startOrdersLive(ctx.processes, {
    name: 'capture-cost bridge',
    databaseUrl: db.url,
    rabbitmqUrl: ctx.settings.rabbitmqUrl,
    exchange,
    roles: 'bridge',
  });
  ctx.defer(() => bridge.kill());
  await waitFor(
    async () => metricValue(await scrapeMetrics(bridge.url), 'orders_live_bridge_is_leader') === 1,
    {
      what: 'the bridge to lead',
    },
  );
  return { variant, db, bridge };
}

async function measure(setup: Setup, writers: number, seconds: number, repetition: number): Promise<Run> {
  await setup.db.reset();
  await setup.db.pool.query('CHECKPOINT');
  const before = setup.bridge ? await published(setup.bridge) : 0;
  const bridgeCpu = setup.bridge ? await sampleBridgeCpu(setup.db.pool, setup.bridge.pid) : undefined;
  const result = await runPgbench({
    databaseUrl: setup.db.url,
    script: PGBENCH_SCRIPT,
    clients: writers,
    seconds,
  });
  const cpu = bridgeCpu?.stop();
  const run: Run = {
    variant: setup.variant.id,
    writers,
    repetition,
    tps: result.tps,
    latencyMs: result.latencyMs,
    failed: result.failed,
  };
  if (setup.bridge) {
    run.bridgeCpuCores = cpu?.process;
    run.bridgeBackendsCpuCores = cpu?.backends;
    const stopped = performance.now();
    await waitFor(async () => (await unpublished(setup.db.pool)) === 0, {
      timeoutMs: 60_000,
      what: 'the bridge to drain',
    });
    run.drainMs = performance.now() - stopped;
    // The per-event exchange catches up once the feed is idle: not during the next run.
    await waitForPipelineIdle(setup.db);
    run.eventsDrainMs = performance.now() - stopped;
    run.published = (await published(setup.bridge)) - before;
  }
  return run;
}

/** The bridge process and its PostgreSQL backends (lock/relay, pool, LISTEN), all read from /proc. */
async function sampleBridgeCpu(pool: pg.Pool, bridgePid: number) {
  const { rows } = await pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
     AND application_name LIKE 'orders-live%' AND application_name NOT LIKE 'orders-live-bench%'`,
  );
  const processSample = sampleProc(bridgePid);
  const backends = rows.map((r) => sampleProc(r.pid));
  return {
    stop: () => ({
      process: processSample.stop().cpuCores,
      backends: backends.reduce((n, b) => n + b.stop().cpuCores, 0),
    }),
  };
}

async function timeBulk(setup: Setup): Promise<number> {
  await setup.db.reset();
  await setup.db.pool.query('CHECKPOINT');
  const client = await setup.db.connect('orders-live-bench');
  try {
    const started = performance.now();
    await client.query(BULK_SQL);
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

async function published(bridge: OrdersLiveProcess): Promise<number> {
  return metricValue(await scrapeMetrics(bridge.url), 'orders_live_bridge_published_total');
}

async function unpublished(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT events::int AS n FROM order_events_backlog()');
  return rows[0]!.n;
}

function report(runs: Run[], bulk: { variant: string; seconds: number }[], seconds: number): BenchOutput {
  const tps = (v: string, w: number) =>
    runs.filter((r) => r.variant === v && r.writers === w).map((r) => r.tps);
  const ratio = (v: string, w: number): Spread => ratioSpread(tps(v, w), tps('a', w));
  const rows = WRITERS.flatMap((w) =>
    CAPTURE_VARIANTS.map((v) => {
      const these = runs.filter((r) => r.variant === v.id && r.writers === w);
      return [
        `(${v.id}) ${v.label}`,
        String(w),
        fmtSpread(spread(these.map((r) => r.tps))),
        fmtSpread(ratio(v.id, w)),
        fmt(spread(these.map((r) => r.latencyMs)).median, 3),
      ];
    }),
  );
  const bulkOf = (v: string) => bulk.filter((b) => b.variant === v).map((b) => b.seconds);
  const bulkRows = BULK_VARIANTS.map((id) => [
    `(${id}) ${CAPTURE_VARIANTS.find((v) => v.id === id)!.label}`,
    fmtSpread(spread(bulkOf(id)), 3),
    fmtSpread(ratioSpread(bulkOf(id), bulkOf('a'))),
  ]);
  const shipped8 = ratio('e', 8);
  const writersShare8 = ratio('f', 8);
  const doorbellVsLog8 = ratioSpread(tps('f', 8), tps('c', 8));
  const shipped1 = ratio('e', 1);
  const bulkD = ratioSpread(bulkOf('d'), bulkOf('a'));
  const eRuns = runs.filter((r) => r.variant === 'e');
  return {
    method: [
      `pgbench -n -M prepared -T ${seconds} -c 1|8 -j min(c,2), custom script: UPDATE orders SET status = <flipped> WHERE id = random(1, ${SEED_ROWS}); every statement really changes its row.`,
      'Each variant in its own database (created, migrated with src/db/migrate.ts, seeded, then altered). The BEFORE UPDATE versioning trigger stays in all variants, so ratios isolate capture.',
      `${REPETITIONS} repetitions; in each, every writer count and every variant in turn (side by side); ratios are per repetition, shown as median (min–max). Before every run: TRUNCATE order_events, VACUUM (ANALYZE) orders, CHECKPOINT.`,
      '(e) runs with `start --role bridge --port 0` on its database, publishing to a random exchange (no queue bound); after each run the bench waits until the bridge has published everything, on the feed and on the per-event exchange.',
      "(f) is (e)'s triggers with the doorbell lease held for good and no bridge: what the shipped capture costs the writers themselves, apart from the relay's share of the same 2 cores.",
      `Bulk: one autocommit UPDATE of all ${SEED_ROWS} rows, timed in Node around the query (includes COMMIT), ${REPETITIONS} repetitions per variant, interleaved; only (a) and (d): for one statement (b) sends 100k payloads, (c) and (e) capture like (d).`,
    ],
    tables: [
      {
        title: 'Single-row UPDATE throughput',
        columns: ['variant', 'writers', 'tps', '× (a)', 'latency ms'],
        rows,
      },
      { title: `Bulk UPDATE of ${SEED_ROWS} rows`, columns: ['variant', 'seconds', '× (a)'], rows: bulkRows },
    ],
    targets: [
      medianTarget('shipped (e) vs (a), 8 writers', '≥', 0.65, 'issue 10', shipped8),
      medianTarget("writers' share (f) vs (a), 8 writers", '≥', 0.65, 'issue 10', writersShare8),
      medianTarget(
        "writers' share (f) vs log without NOTIFY (c), 8 writers",
        '≥',
        0.95,
        '≈ the log-write floor',
        doorbellVsLog8,
      ),
      medianTarget('shipped (e) vs (a), 8 writers', '≥', 0.75, 'issue 8', shipped8),
      medianTarget('shipped (e) vs (a), 1 writer', '≥', 0.75, 'issue 8', shipped1),
      { ...medianTarget('bulk UPDATE with capture (d) vs (a)', '≤', 2.5, '', bulkD), goal: '≤ 2.5× time' },
    ],
    notes: [
      `(e)'s bridge confirmed ${eRuns.reduce((n, r) => n + (r.published ?? 0), 0)} events over its runs; ` +
        `after pgbench stopped it needed ${fmtSpread(spread(eRuns.map((r) => r.drainMs ?? Number.NaN)), 0)} ms to finish the feed, and ${fmtSpread(spread(eRuns.map((r) => r.eventsDrainMs ?? Number.NaN)), 0)} ms until the per-event exchange had caught up (it takes at most BRIDGE_EVENTS_RATE events/s while the feed publishes); the next run starts after both.`,
      ...WRITERS.map((w) => {
        const these = eRuns.filter((r) => r.writers === w);
        return (
          `(e) with ${w} writer(s): the bridge process used ${fmtSpread(spread(these.map((r) => r.bridgeCpuCores ?? Number.NaN)))} cores ` +
          `and its PostgreSQL backends ${fmtSpread(spread(these.map((r) => r.bridgeBackendsCpuCores ?? Number.NaN)))} cores ` +
          'of the 2, relaying while pgbench wrote; (a)–(d) and (f) run no bridge.'
        );
      }),
      `Failed transactions reported by pgbench: ${runs.reduce((n, r) => n + r.failed, 0)}.`,
    ],
    data: {
      runs,
      bulk,
      pgbenchSeconds: seconds,
      variants: CAPTURE_VARIANTS.map((v) => ({ id: v.id, short: v.short, bridge: v.bridge })),
    },
  };
}
