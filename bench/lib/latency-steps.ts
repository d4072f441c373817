// Commit → client latency at paced rates, for several pipelines side by side: each pipeline has
// its database, its server, its writers and its fleet of socket clients in a child process; for
// every rate and repetition the pipelines take turns (the order rotates), so a box that slows
// down during the run slows all of them alike. Every event is timed from the writer's commit to
// each client's receipt.

import type pg from 'pg';
import type { BenchContext } from './benchmark.js';
import { type ClientFleet, startClientFleet } from './client-fleet.js';
import { type BenchDatabase, SEED_ROWS, waitForPipelineIdle } from './database.js';
import type { FleetMode, FleetStatus, FleetWindow } from './fleet-protocol.js';
import { runPacedWrites, type WriteStats } from './paced-writer.js';
import {
  type Histogram,
  histogramDelta,
  histogramMean,
  histogramQuantile,
  type MetricSamples,
  metricValue,
  readHistogram,
  scrapeMetrics,
} from './prometheus.js';
import type { Table } from './report.js';
import {
  concatSamples,
  fmt,
  fmtSpread,
  type LatencySummary,
  type PercentilePoint,
  percentileCurve,
  type Spread,
  spread,
  summarizeLatency,
} from './stats.js';

/** One pipeline under test: where its clients connect and what they receive. */
export interface LatencyPipeline {
  key: string;
  /** "(a)", "(b)", … */
  id: string;
  label: string;
  db: BenchDatabase;
  /** The socket server's base URL. */
  url: string;
  mode: FleetMode;
  /** An orders-live process whose bridge and gateway metrics say where the time goes. */
  metricsUrl?: string;
}

export interface LatencyShape {
  clients: number;
  rates: readonly number[];
  repetitions: number;
  secondsPerRepetition: number;
  writers: number;
  maxRowsPerStatement: number;
}

export interface LatencyStep {
  rate: number;
  writes: WriteStats[];
  achievedRate: Spread;
  latency: LatencySummary;
  /** Latency at p50 … p99.9 over the same samples, for the charts (absent in older results). */
  curve?: PercentilePoint[];
  /** Each repetition's p50 and p99, in the order they ran (absent in older results). */
  repetitionLatency?: { p50: number; p99: number }[];
  p50PerRepetition?: Spread;
  p99PerRepetition: Spread;
  toPublished: LatencySummary;
  fromPublished: LatencySummary;
  /** Receipts still missing after the wait, duplicates and gaps seen by clients, unknown keys. */
  missing: number;
  duplicates: number;
  gaps: number;
  unknown: number;
  disconnects: number;
  pipeline?: PipelineMetrics;
}

/** A stage's p50 / p99 in ms, from a histogram of /metrics (linear within a bucket). */
export interface StageFigure {
  p50: number;
  p99: number;
  count: number;
}

export interface PipelineMetrics {
  batches: number;
  eventsPerBatch: number;
  batchMeanMs: number;
  batchP99Ms: number;
  emitDelayP50Ms: number;
  emitDelayP99Ms: number;
  /** The stages, in order (absent in results before the stage histograms). */
  stages?: Record<StageKey, StageFigure>;
}

export type StageKey = 'captureToNumbered' | 'numberedToHanded' | 'handedToReceived' | 'receivedToEmitted';

/** The stage histograms of an orders-live process, in pipeline order. */
export const STAGES: readonly { key: StageKey; label: string; metric: string }[] = [
  {
    key: 'captureToNumbered',
    label: 'capture → numbered',
    metric: 'orders_live_bridge_capture_to_numbered_seconds',
  },
  {
    key: 'numberedToHanded',
    label: 'numbered → handed to broker',
    metric: 'orders_live_bridge_numbered_to_handed_seconds',
  },
  {
    key: 'handedToReceived',
    label: 'handed → gateway received',
    metric: 'orders_live_gateway_feed_delay_seconds',
  },
  {
    key: 'receivedToEmitted',
    label: 'received → emitted',
    metric: 'orders_live_gateway_receive_to_emit_seconds',
  },
];

export interface PipelineResult {
  key: string;
  id: string;
  label: string;
  clock: ClientFleet['clock'];
  steps: LatencyStep[];
}

export interface InterleavedLatency {
  pipelines: PipelineResult[];
  /** The order the pipelines ran in, per rate and repetition (by id). */
  order: string[][];
}

/** How long the clients may take to receive the last events of a window. */
const SETTLE_TIMEOUT_MS = 15_000;
const WARMUP = { rate: 100, ms: 1_000 };

interface Rig {
  pipeline: LatencyPipeline;
  fleet: ClientFleet;
  writers: pg.Client[];
}

interface Window {
  window: FleetWindow;
  writes: WriteStats;
  before?: MetricSamples;
  after?: MetricSamples;
}

export async function measureLatencyInterleaved(
  ctx: BenchContext,
  pipelines: readonly LatencyPipeline[],
  shape: LatencyShape,
): Promise<InterleavedLatency> {
  const rigs: Rig[] = [];
  for (const pipeline of pipelines) rigs.push(await setUp(ctx, pipeline, shape));
  for (const rig of rigs) {
    ctx.progress(`${rig.pipeline.id} warm-up: ${WARMUP.rate}/s for ${WARMUP.ms} ms (not measured)`);
    await write(rig, shape, WARMUP.rate, WARMUP.ms);
    await settle(rig.fleet);
    await rig.fleet.collect();
  }
  const windows = new Map<string, Map<number, Window[]>>(rigs.map((r) => [r.pipeline.key, new Map()]));
  const order: string[][] = [];
  let turn = 0;
  for (const rate of shape.rates) {
    for (let rep = 1; rep <= shape.repetitions; rep++) {
      const rotated = rigs.map((_, i) => rigs[(i + turn) % rigs.length]!);
      turn += 1;
      order.push(rotated.map((r) => r.pipeline.id));
      for (const rig of rotated) {
        const measured = await measureWindow(rig, shape, rate);
        const byRate = windows.get(rig.pipeline.key)!;
        byRate.set(rate, [...(byRate.get(rate) ?? []), measured]);
        const p = summarizeLatency(measured.window.latencies);
        ctx.progress(
          `${rate}/s rep ${rep} ${rig.pipeline.id}: ${fmt(measured.writes.achievedRate)} events/s in ` +
            `${measured.writes.statements} statements; p50 ${fmt(p.p50)} ms, p99 ${fmt(p.p99)} ms, max ${fmt(p.max)} ms`,
        );
      }
    }
  }
  return {
    order,
    pipelines: rigs.map(({ pipeline, fleet }) => ({
      key: pipeline.key,
      id: pipeline.id,
      label: pipeline.label,
      clock: fleet.clock,
      steps: shape.rates.map((rate) => summarizeStep(rate, windows.get(pipeline.key)!.get(rate) ?? [])),
    })),
  };
}

async function setUp(ctx: BenchContext, pipeline: LatencyPipeline, shape: LatencyShape): Promise<Rig> {
  ctx.progress(`${pipeline.id}: connecting ${shape.clients} socket.io clients (child process)`);
  const fleet = await startClientFleet(ctx.processes, {
    name: `${pipeline.id} clients`,
    url: pipeline.url,
    count: shape.clients,
    mode: pipeline.mode,
  });
  ctx.defer(() => fleet.close());
  const writers: pg.Client[] = [];
  for (let i = 0; i < shape.writers; i++) writers.push(await pipeline.db.connect('orders-live-bench-writer'));
  ctx.defer(() => Promise.all(writers.map((w) => w.end())));
  return { pipeline, fleet, writers };
}

function write(rig: Rig, shape: LatencyShape, rate: number, durationMs: number): Promise<WriteStats> {
  return runPacedWrites({
    clients: rig.writers,
    rate,
    durationMs,
    rows: SEED_ROWS,
    maxRowsPerStatement: shape.maxRowsPerStatement,
    onCommit: (keys, at) => rig.fleet.commit(keys, at),
  });
}

async function measureWindow(rig: Rig, shape: LatencyShape, rate: number): Promise<Window> {
  const { metricsUrl } = rig.pipeline;
  const before = metricsUrl ? await scrapeMetrics(metricsUrl) : undefined;
  const writes = await write(rig, shape, rate, shape.secondsPerRepetition * 1000);
  const missing = (await settle(rig.fleet)).pending;
  const window = await rig.fleet.collect();
  window.status.pending = missing;
  const after = metricsUrl ? await scrapeMetrics(metricsUrl) : undefined;
  // What orders-live still owes the per-event exchange runs now, not in the next pipeline's turn.
  if (metricsUrl) await waitForPipelineIdle(rig.pipeline.db);
  return { window, writes, before, after };
}

async function settle(fleet: ClientFleet): Promise<FleetStatus> {
  try {
    return await fleet.waitDelivered(SETTLE_TIMEOUT_MS);
  } catch {
    return fleet.status();
  }
}

function summarizeStep(rate: number, measured: readonly Window[]): LatencyStep {
  const windows = measured.map((m) => m.window);
  const sum = (f: (w: FleetWindow) => number) => windows.reduce((n, w) => n + f(w), 0);
  const latencies = concatSamples(windows.map((w) => w.latencies));
  const perRep = windows.map((w) => summarizeLatency(w.latencies));
  const scraped = measured.filter((m) => m.before && m.after);
  return {
    rate,
    writes: measured.map((m) => m.writes),
    achievedRate: spread(measured.map((m) => m.writes.achievedRate)),
    latency: summarizeLatency(latencies),
    curve: percentileCurve(latencies),
    repetitionLatency: perRep.map((p) => ({ p50: p.p50, p99: p.p99 })),
    p50PerRepetition: spread(perRep.map((p) => p.p50)),
    p99PerRepetition: spread(perRep.map((p) => p.p99)),
    toPublished: summarizeLatency(concatSamples(windows.map((w) => w.toPublished))),
    fromPublished: summarizeLatency(concatSamples(windows.map((w) => w.fromPublished))),
    missing: sum((w) => w.status.pending),
    duplicates: sum((w) => w.duplicates),
    gaps: sum((w) => w.gaps),
    unknown: sum((w) => w.unknown),
    disconnects: Math.max(0, ...windows.map((w) => w.status.disconnects)),
    pipeline: scraped.length > 0 ? pipelineMetrics(scraped) : undefined,
  };
}

/** The metrics of every window of a step, summed (histogram deltas add up). */
function pipelineMetrics(windows: readonly Window[]): PipelineMetrics {
  const delta = (name: string): Histogram =>
    windows
      .map((w) => histogramDelta(readHistogram(w.after!, name), readHistogram(w.before!, name)))
      .reduce(addHistograms);
  const batches = delta('orders_live_bridge_publish_seconds');
  const emit = delta('orders_live_gateway_emit_delay_seconds');
  const published = windows.reduce(
    (n, w) =>
      n +
      metricValue(w.after!, 'orders_live_bridge_published_total') -
      metricValue(w.before!, 'orders_live_bridge_published_total'),
    0,
  );
  const figure = (h: Histogram): StageFigure => ({
    p50: histogramQuantile(h, 0.5) * 1000,
    p99: histogramQuantile(h, 0.99) * 1000,
    count: h.count,
  });
  return {
    batches: batches.count,
    eventsPerBatch: batches.count > 0 ? published / batches.count : Number.NaN,
    batchMeanMs: histogramMean(batches) * 1000,
    batchP99Ms: histogramQuantile(batches, 0.99) * 1000,
    emitDelayP50Ms: histogramQuantile(emit, 0.5) * 1000,
    emitDelayP99Ms: histogramQuantile(emit, 0.99) * 1000,
    stages: Object.fromEntries(STAGES.map((s) => [s.key, figure(delta(s.metric))])) as Record<
      StageKey,
      StageFigure
    >,
  };
}

function addHistograms(a: Histogram, b: Histogram): Histogram {
  return {
    buckets: a.buckets.map((bucket, i) => ({
      le: bucket.le,
      count: bucket.count + (b.buckets[i]?.count ?? 0),
    })),
    sum: a.sum + b.sum,
    count: a.count + b.count,
  };
}

/** The latency table of one pipeline. */
export function latencyTable(title: string, steps: readonly LatencyStep[]): Table {
  return {
    title,
    columns: [
      'rate/s',
      'achieved/s',
      'rows/stmt',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'max ms',
      'p50 per rep',
      'p99 per rep',
      'receipts',
      'missing/dup/gap',
    ],
    rows: steps.map((s) => [
      fmt(s.rate, 0),
      fmtSpread(s.achievedRate, 0),
      fmt(s.writes.reduce((n, w) => n + w.events, 0) / s.writes.reduce((n, w) => n + w.statements, 0), 1),
      fmt(s.latency.p50),
      fmt(s.latency.p95),
      fmt(s.latency.p99),
      fmt(s.latency.max),
      s.p50PerRepetition ? fmtSpread(s.p50PerRepetition) : '–',
      fmtSpread(s.p99PerRepetition),
      String(s.latency.count),
      `${s.missing}/${s.duplicates}/${s.gaps}`,
    ]),
  };
}

/** Where orders-live's time goes: its own stage histograms and the envelopes' published_at. */
export function stagesTable(title: string, steps: readonly LatencyStep[]): Table {
  const stage = (s: LatencyStep, key: StageKey) => {
    const f = s.pipeline?.stages?.[key];
    return f && f.count > 0 ? `${fmt(f.p50)} / ${fmt(f.p99)}` : '–';
  };
  return {
    title,
    columns: [
      'rate/s',
      'commit→client p50/p99',
      ...STAGES.map((s) => `${s.label} p50/p99`),
      'commit→published_at p50/p99',
      'published_at→client p50/p99',
      'events/batch',
      'batch numbered→confirmed mean/p99',
    ],
    rows: steps.map((s) => [
      fmt(s.rate, 0),
      `${fmt(s.latency.p50)} / ${fmt(s.latency.p99)}`,
      ...STAGES.map((st) => stage(s, st.key)),
      `${fmt(s.toPublished.p50)} / ${fmt(s.toPublished.p99)}`,
      `${fmt(s.fromPublished.p50)} / ${fmt(s.fromPublished.p99)}`,
      s.pipeline ? fmt(s.pipeline.eventsPerBatch, 1) : '–',
      s.pipeline ? `${fmt(s.pipeline.batchMeanMs)} / ${fmt(s.pipeline.batchP99Ms)}` : '–',
    ]),
  };
}

/**
 * The pipelines side by side at each rate: p50 / p99 of each, and the ratio of the first to each
 * other, over all samples and per repetition (median, min–max of the repetitions' ratios).
 */
export function sideBySideTable(result: InterleavedLatency): Table {
  const [ours, ...others] = result.pipelines;
  if (!ours) return { title: 'no pipeline ran', columns: [], rows: [] };
  const cell = (s: LatencyStep | undefined) => (s ? `${fmt(s.latency.p50)} / ${fmt(s.latency.p99)}` : '–');
  return {
    title: `${ours.id} ${ours.label} against the others (same run, interleaved): p50 / p99 ms, and ratios`,
    columns: [
      'rate/s',
      ...result.pipelines.map((p) => `${p.id} ${p.label}`),
      ...others.flatMap((o) => [`${ours.id} ÷ ${o.id} p50`, `${ours.id} ÷ ${o.id} p99`]),
    ],
    rows: ours.steps.map((step) => {
      const at = (p: PipelineResult) => p.steps.find((s) => s.rate === step.rate);
      return [
        fmt(step.rate, 0),
        ...result.pipelines.map((p) => cell(at(p))),
        ...others.flatMap((o) => {
          const theirs = at(o);
          return theirs ? [ratioCell(step, theirs, 'p50'), ratioCell(step, theirs, 'p99')] : ['–', '–'];
        }),
      ];
    }),
  };
}

/** "3.1 (2.8–3.5)": the ratio over all samples, and the spread of the per-repetition ratios. */
function ratioCell(ours: LatencyStep, theirs: LatencyStep, p: 'p50' | 'p99'): string {
  const overall = ours.latency[p] / theirs.latency[p];
  const perRep = repetitionRatios(ours, theirs, p);
  return perRep.n > 0 ? `${fmt(overall)} (${fmt(perRep.min)}–${fmt(perRep.max)})` : fmt(overall);
}

/** The ratio of each repetition's p50 or p99 (repetition i of one against repetition i of the other). */
export function repetitionRatios(ours: LatencyStep, theirs: LatencyStep, p: 'p50' | 'p99'): Spread {
  const mine = ours.repetitionLatency?.map((r) => r[p]) ?? [];
  const others = theirs.repetitionLatency?.map((r) => r[p]) ?? [];
  const n = Math.min(mine.length, others.length);
  return spread(Array.from({ length: n }, (_, i) => mine[i]! / others[i]!));
}
