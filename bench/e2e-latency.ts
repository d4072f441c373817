// e2e-latency: commit → socket.io-client receipt for orders-live (one `start` process with every
// role) beside the reference pipelines (b) naive and (c) original shape, interleaved in one run:
// for every rate and repetition each pipeline takes a turn, in rotating order. 10 clients per
// pipeline in a child process. `BENCH_AGAINST=<dir>` adds (a′): another checkout of orders-live
// (its own node_modules), to measure a change against the code before it in the same run.

import type { BenchContext, Benchmark } from './lib/benchmark.js';
import {
  type InterleavedLatency,
  type LatencyPipeline,
  type LatencyStep,
  latencyTable,
  measureLatencyInterleaved,
  repetitionRatios,
  sideBySideTable,
  stagesTable,
} from './lib/latency-steps.js';
import { codeRevision } from './lib/machine.js';
import { startOrdersLiveOnOwn } from './lib/orders-live.js';
import { REFERENCES, startReference } from './lib/references.js';
import type { Target } from './lib/report.js';
import { fmt } from './lib/stats.js';

export const E2E_RATES = [100, 1_000, 5_000] as const;
export const E2E_SHAPE = {
  clients: 10,
  repetitions: 3,
  secondsPerRepetition: 4,
  writers: 4,
  maxRowsPerStatement: 100,
};
export const QUICK_SECONDS = 2;

/** Issue 27's targets: orders-live ÷ (c) at each rate. */
const TARGETS = [
  { rate: 100, p: 'p50', most: 3 },
  { rate: 1_000, p: 'p50', most: 5 },
  { rate: 100, p: 'p99', most: 3 },
  { rate: 1_000, p: 'p99', most: 3 },
] as const;

/** How the latencies are measured. */
export function latencyMethod(seconds: number, result: InterleavedLatency): string[] {
  const clocks = result.pipelines
    .map((p) => `${p.id} ${fmt(p.clock.offsetMs, 3)} ± ${fmt(p.clock.uncertaintyMs, 3)} ms`)
    .join(', ');
  return [
    `Writers: ${E2E_SHAPE.writers} connections per pipeline, paced by the clock (event i due at start + i/rate); each statement takes every due row (≤ ${E2E_SHAPE.maxRowsPerStatement}): one row per statement while the writers keep up, more when they fall behind (rows/stmt column). ${E2E_SHAPE.repetitions} repetitions of ${seconds} s per rate after a 1 s warm-up.`,
    `Interleaved: for each rate and repetition every pipeline runs its window in turn, the order rotating (${result.order.map((o) => o.join(' ')).join('; ')}). Idle pipelines wait for their turn; after each of orders-live's windows the bench waits until its per-event exchange has caught up too (BRIDGE_EVENTS_RATE defers it while the feed publishes), so that work never runs in another pipeline's window.`,
    'Latency = client receipt − commit, per event and per client. The commit time is taken in the bench process when the autocommit UPDATE … RETURNING id, version returns; the clients (a child process per pipeline) key receipts by (order id, version).',
    `Both processes read performance.timeOrigin + performance.now(); each client process's offset was measured by IPC round trips (best of 30) and corrected for: ${clocks}.`,
    `${E2E_SHAPE.clients} socket.io-client clients (websocket transport) per pipeline, in a child process of their own.`,
    '(a) `start --port 0` (api, bridge, gateway in one process, default settings), its own database and a random AMQP_EXCHANGE.',
    ...REFERENCES.map(
      (r) => `${r.describe} Versioning trigger kept, capture triggers dropped, in its own database.`,
    ),
    "Stages of (a), from its /metrics histograms summed over its windows (p50/p99 interpolated within buckets): capture → numbered is per event, occurred_at (the database's clock) to the numbering's commit; numbered → handed is per batch, to its feed message written to RabbitMQ's socket; handed → received is per feed message, its x-handed-at header to the gateway's consumer; received → emitted is per message, to the broadcast of its last event. published_at (ms resolution) is taken as a batch's numbering starts, so commit → published_at is the doorbell or poll wait; published_at → client is client 0's.",
  ];
}

export const e2eLatency: Benchmark = {
  name: 'e2e-latency',
  title: 'commit → socket.io client: orders-live beside (b) naive and (c) original shape, interleaved',
  async run(ctx) {
    const pipelines = await startPipelines(ctx);
    const seconds = ctx.quick ? QUICK_SECONDS : E2E_SHAPE.secondsPerRepetition;
    const result = await measureLatencyInterleaved(ctx, pipelines, {
      ...E2E_SHAPE,
      rates: E2E_RATES,
      secondsPerRepetition: seconds,
    });
    const ours = result.pipelines.find((p) => p.key === 'orders-live')!;
    const original = result.pipelines.find((p) => p.key === 'original')!;
    return {
      method: latencyMethod(seconds, result),
      tables: [
        sideBySideTable(result),
        ...result.pipelines.map((p) => latencyTable(`${p.id} ${p.label}: commit → client`, p.steps)),
        ...result.pipelines
          .filter((p) => p.steps.some((s) => s.pipeline))
          .map((p) => stagesTable(`${p.id} ${p.label}: where the time goes`, p.steps)),
      ],
      targets: TARGETS.map(({ rate, p, most }) => target(ours.steps, original.steps, rate, p, most)),
      notes: [],
      data: result,
    };
  },
};

/** (a) orders-live, (b), (c), and (a′) when BENCH_AGAINST names another checkout. */
async function startPipelines(ctx: BenchContext): Promise<LatencyPipeline[]> {
  ctx.progress('(a): database and an orders-live process with every role');
  const pipelines = [await startOurs(ctx, 'orders-live', '(a)', 'orders-live')];
  const against = process.env.BENCH_AGAINST;
  if (against) {
    const revision = await codeRevision(against);
    ctx.progress(`(a′): orders-live at ${revision} from ${against}`);
    pipelines.push(await startOurs(ctx, 'against', '(a′)', `orders-live at ${revision}`, against));
  }
  for (const ref of REFERENCES) {
    ctx.progress(`${ref.id}: database with the naive row trigger, and its server`);
    const { db, url } = await startReference(ctx, ref, `e2e_latency_${ref.key}`);
    pipelines.push({ key: ref.key, id: ref.id, label: ref.label, db, url, mode: 'row' });
  }
  return pipelines;
}

async function startOurs(
  ctx: BenchContext,
  key: string,
  id: string,
  label: string,
  root?: string,
): Promise<LatencyPipeline> {
  const { db, server } = await startOrdersLiveOnOwn(
    ctx,
    { database: `e2e_latency_${key}`, exchange: `e2e-latency-${key}` },
    { name: `e2e ${label}`, root },
  );
  return { key, id, label, db, url: server.url, mode: 'envelope', metricsUrl: server.url };
}

function target(
  ours: readonly LatencyStep[],
  original: readonly LatencyStep[],
  rate: number,
  p: 'p50' | 'p99',
  most: number,
): Target {
  const a = ours.find((s) => s.rate === rate);
  const c = original.find((s) => s.rate === rate);
  const ratio = a && c ? a.latency[p] / c.latency[p] : Number.NaN;
  const perRep = a && c ? repetitionRatios(a, c, p) : undefined;
  return {
    what: `${p} at ${fmt(rate, 0)}/s, (a) ÷ (c) (issue 27)`,
    goal: `≤ ${most}×`,
    measured:
      `${fmt(ratio)}× (${fmt(a?.latency[p] ?? Number.NaN)} ms against ${fmt(c?.latency[p] ?? Number.NaN)} ms)` +
      (perRep && perRep.n > 0 ? `; per repetition ${fmt(perRep.min)}–${fmt(perRep.max)}×` : ''),
    met: ratio <= most,
  };
}
