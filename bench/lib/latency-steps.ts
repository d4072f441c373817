// Commit → client latency at paced rates, shared by e2e-latency (orders-live) and baseline (the
// naive pipeline): a fleet of socket clients in a child process, writers paced by the clock on
// several connections, and every event timed from the writer's commit to each client's receipt.

import type pg from 'pg';
import type { BenchContext } from './benchmark.js';
import { type ClientFleet, startClientFleet } from './client-fleet.js';
import { type BenchDatabase, SEED_ROWS } from './database.js';
import type { FleetMode, FleetStatus, FleetWindow } from './fleet-protocol.js';
import { runPacedWrites, type WriteStats } from './paced-writer.js';
import {
  type Histogram,
  histogramDelta,
  histogramMean,
  histogramQuantile,
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

export interface LatencyStepsOptions {
  name: string;
  db: BenchDatabase;
  /** The socket server's base URL. */
  url: string;
  mode: FleetMode;
  clients: number;
  rates: readonly number[];
  repetitions: number;
  secondsPerRepetition: number;
  writers: number;
  maxRowsPerStatement: number;
  /** An orders-live process whose bridge and gateway metrics say where the time goes. */
  metricsUrl?: string;
}

export interface LatencyStep {
  rate: number;
  writes: WriteStats[];
  achievedRate: Spread;
  latency: LatencySummary;
  /** Latency at p50 … p99.9 over the same samples, for the charts (absent in older results). */
  curve?: PercentilePoint[];
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

export interface PipelineMetrics {
  batches: number;
  eventsPerBatch: number;
  batchMeanMs: number;
  batchP99Ms: number;
  emitDelayP50Ms: number;
  emitDelayP99Ms: number;
}

export interface LatencyResult {
  clock: ClientFleet['clock'];
  steps: LatencyStep[];
}

/** How long the clients may take to receive the last events of a window. */
const SETTLE_TIMEOUT_MS = 15_000;
const WARMUP = { rate: 100, ms: 1_000 };

export async function measureLatencySteps(
  ctx: BenchContext,
  options: LatencyStepsOptions,
): Promise<LatencyResult> {
  ctx.progress(`connecting ${options.clients} socket.io clients (child process)`);
  const fleet = await startClientFleet(ctx.processes, {
    name: `${options.name} clients`,
    url: options.url,
    count: options.clients,
    mode: options.mode,
  });
  ctx.defer(() => fleet.close());
  const writers: pg.Client[] = [];
  for (let i = 0; i < options.writers; i++)
    writers.push(await options.db.connect('orders-live-bench-writer'));
  ctx.defer(() => Promise.all(writers.map((w) => w.end())));
  const write = (rate: number, durationMs: number) =>
    runPacedWrites({
      clients: writers,
      rate,
      durationMs,
      rows: SEED_ROWS,
      maxRowsPerStatement: options.maxRowsPerStatement,
      onCommit: (keys, at) => fleet.commit(keys, at),
    });
  ctx.progress(`warm-up: ${WARMUP.rate}/s for ${WARMUP.ms} ms (not measured)`);
  await write(WARMUP.rate, WARMUP.ms);
  await settle(fleet);
  await fleet.collect();
  const steps: LatencyStep[] = [];
  for (const rate of options.rates) {
    const before = options.metricsUrl ? await scrapeMetrics(options.metricsUrl) : undefined;
    const windows: FleetWindow[] = [];
    const writes: WriteStats[] = [];
    for (let rep = 1; rep <= options.repetitions; rep++) {
      const stats = await write(rate, options.secondsPerRepetition * 1000);
      const missing = (await settle(fleet)).pending;
      const window = await fleet.collect();
      window.status.pending = missing;
      windows.push(window);
      writes.push(stats);
      const p = summarizeLatency(window.latencies);
      ctx.progress(
        `${rate}/s rep ${rep}: ${fmt(stats.achievedRate)} events/s in ${stats.statements} statements; ` +
          `p50 ${fmt(p.p50)} ms, p99 ${fmt(p.p99)} ms, max ${fmt(p.max)} ms`,
      );
    }
    const after = options.metricsUrl ? await scrapeMetrics(options.metricsUrl) : undefined;
    steps.push(
      summarizeStep(rate, writes, windows, before && after ? pipelineMetrics(before, after) : undefined),
    );
  }
  return { clock: fleet.clock, steps };
}

async function settle(fleet: ClientFleet): Promise<FleetStatus> {
  try {
    return await fleet.waitDelivered(SETTLE_TIMEOUT_MS);
  } catch {
    return fleet.status();
  }
}

function summarizeStep(
  rate: number,
  writes: WriteStats[],
  windows: FleetWindow[],
  pipeline: PipelineMetrics | undefined,
): LatencyStep {
  const sum = (f: (w: FleetWindow) => number) => windows.reduce((n, w) => n + f(w), 0);
  const latencies = concatSamples(windows.map((w) => w.latencies));
  return {
    rate,
    writes,
    achievedRate: spread(writes.map((w) => w.achievedRate)),
    latency: summarizeLatency(latencies),
    curve: percentileCurve(latencies),
    p99PerRepetition: spread(windows.map((w) => summarizeLatency(w.latencies).p99)),
    toPublished: summarizeLatency(concatSamples(windows.map((w) => w.toPublished))),
    fromPublished: summarizeLatency(concatSamples(windows.map((w) => w.fromPublished))),
    missing: sum((w) => w.status.pending),
    duplicates: sum((w) => w.duplicates),
    gaps: sum((w) => w.gaps),
    unknown: sum((w) => w.unknown),
    disconnects: Math.max(...windows.map((w) => w.status.disconnects)),
    pipeline,
  };
}

function pipelineMetrics(before: Map<string, number>, after: Map<string, number>): PipelineMetrics {
  const delta = (name: string): Histogram =>
    histogramDelta(readHistogram(after, name), readHistogram(before, name));
  const batches = delta('orders_live_bridge_publish_seconds');
  const emit = delta('orders_live_gateway_emit_delay_seconds');
  const published =
    metricValue(after, 'orders_live_bridge_published_total') -
    metricValue(before, 'orders_live_bridge_published_total');
  return {
    batches: batches.count,
    eventsPerBatch: batches.count > 0 ? published / batches.count : Number.NaN,
    batchMeanMs: histogramMean(batches) * 1000,
    batchP99Ms: histogramQuantile(batches, 0.99) * 1000,
    emitDelayP50Ms: histogramQuantile(emit, 0.5) * 1000,
    emitDelayP99Ms: histogramQuantile(emit, 0.99) * 1000,
  };
}

/** The latency table of a result. */
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
      fmtSpread(s.p99PerRepetition),
      String(s.latency.count),
      `${s.missing}/${s.duplicates}/${s.gaps}`,
    ]),
  };
}

/** Where the time goes, from the envelopes' published_at and the processes' own metrics. */
export function stagesTable(title: string, steps: readonly LatencyStep[]): Table {
  return {
    title,
    columns: [
      'rate/s',
      'commit→published_at p50/p99',
      'published_at→client p50/p99',
      'bridge batches',
      'events/batch',
      'batch ms mean/p99',
      'gateway emit delay p50/p99',
    ],
    rows: steps.map((s) => [
      fmt(s.rate, 0),
      `${fmt(s.toPublished.p50)} / ${fmt(s.toPublished.p99)}`,
      `${fmt(s.fromPublished.p50)} / ${fmt(s.fromPublished.p99)}`,
      s.pipeline ? String(s.pipeline.batches) : '–',
      s.pipeline ? fmt(s.pipeline.eventsPerBatch, 1) : '–',
      s.pipeline ? `${fmt(s.pipeline.batchMeanMs)} / ${fmt(s.pipeline.batchP99Ms)}` : '–',
      s.pipeline ? `${fmt(s.pipeline.emitDelayP50Ms)} / ${fmt(s.pipeline.emitDelayP99Ms)}` : '–',
    ]),
  };
}
