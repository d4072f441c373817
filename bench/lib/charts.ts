// The charts of a run, drawn from its report (the same object as results/<time>.json): latency per
// pipeline and rate, the throughput ladder, capture cost. Pure: a RunReport in, SVG strings out.
// The report is read defensively (it may come from an older run, or from a benchmark that failed):
// a benchmark that did not run leaves its chart out, one that ran without usable figures gets a
// "no data" chart, and nothing here throws.

import { type CaptureBar, type CaptureKind, renderCaptureCostChart } from './capture-cost-chart.js';
import { CAPTURE_VARIANTS } from './capture-variants.js';
import { type LatencyPanel, type LatencySeries, renderLatencyChart } from './latency-chart.js';
import type { BenchResult, RunReport } from './report.js';
import { type PercentilePoint, spread } from './stats.js';
import { noDataChart } from './svg.js';
import { type LadderAttempt, renderThroughputChart } from './throughput-chart.js';

export type ChartName = 'latency' | 'throughput' | 'capture-cost';

export interface RunChart {
  /** The file is <prefix>-<name>.svg. */
  name: ChartName;
  /** The benchmark whose section of the Markdown report embeds the chart. */
  section: string;
  /** The image's alt text. */
  alt: string;
  svg: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** A finite number, else NaN (JSON writes NaN as null). */
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN);
const WIDTH = 760;
/** The lag limit of results written before throughput recorded maxLagMs. */
const DEFAULT_MAX_LAG_MS = 1_000;
const REFERENCE_LABELS: Record<string, string> = { naive: 'naive trigger', original: 'original shape' };

const CHARTS: { name: ChartName; build(run: RunReport, caption: string): RunChart | undefined }[] = [
  { name: 'latency', build: latencyChart },
  { name: 'throughput', build: throughputChart },
  { name: 'capture-cost', build: captureCostChart },
];

/** Every chart whose benchmark is in the report; a chart that cannot be drawn says why instead. */
export function renderRunCharts(run: RunReport): RunChart[] {
  const caption = runCaption(run);
  return CHARTS.flatMap(({ name, build }) => {
    try {
      return build(run, caption) ?? [];
    } catch (e) {
      // A report of an unexpected shape: say so in this chart rather than lose the others.
      const svg = noDataChart({ width: WIDTH, title: `${name} chart`, caption }, String(e));
      return [{ name, section: name === 'latency' ? 'e2e-latency' : name, alt: `${name} chart`, svg }];
    }
  });
}

/** "Run 2026-12-03 03:14 UTC · code ce54d68 · 2 CPUs (AMD EPYC), Linux 6.18 · PostgreSQL 15.20, …". */
export function runCaption(run: RunReport): string {
  const r = obj(run);
  const m = obj(r.machine);
  const started = typeof r.startedAt === 'string' ? `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC` : '';
  const short = (v: unknown) => (typeof v === 'string' ? v.replace(/ \(.*$/, '') : '');
  const parts = [
    started && `Run ${started}`,
    r.quick === true ? 'quick run, not for BENCHMARKS.md' : '',
    typeof obj(r.revision).start === 'string' ? `code ${obj(r.revision).start}` : '',
    Number.isFinite(num(m.nproc)) ? `${m.nproc} CPUs (${short(m.cpuModel)}), ${m.os}` : '',
    [short(m.postgres), short(m.rabbitmq), m.node ? `Node ${m.node}` : ''].filter(Boolean).join(', '),
  ];
  return parts.filter(Boolean).join(' · ');
}

function resultOf(run: RunReport, name: string): BenchResult | undefined {
  return arr(obj(run).results).find((r) => obj(r).name === name) as BenchResult | undefined;
}

function noData(result: BenchResult | undefined, what: string): string {
  return result?.error ? `${result.name} failed: ${result.error}` : what;
}

function latencyChart(run: RunReport, caption: string): RunChart | undefined {
  const e2e = resultOf(run, 'e2e-latency');
  const base = resultOf(run, 'baseline');
  if (!e2e && !base) return undefined;
  const pipelines = latencyPipelines(e2e, base);
  const rates = [...new Set(pipelines.flatMap((p) => p.steps.map((s) => num(obj(s).rate))))]
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const panels: LatencyPanel[] = rates.map((rate) => ({
    rate,
    series: pipelines.flatMap((p) => {
      const step = p.steps.find((s) => num(obj(s).rate) === rate);
      return step ? [latencySeries(p.id, p.label, obj(step))] : [];
    }),
  }));
  const title = 'Commit → client latency: orders-live against the reference pipelines';
  const relay = obj(resultOf(run, 'relay')?.data);
  const floors = [
    { label: 'idle commit p50', ms: num(obj(relay.commit).p50) },
    { label: 'broker hop p50', ms: num(obj(relay.hop).p50) },
  ].filter((f) => f.ms > 0);
  const section = base ? 'baseline' : 'e2e-latency';
  const alt = 'Latency percentiles (p50 to max) of each pipeline at each rate, log ms axis';
  const svg =
    panels.length > 0
      ? renderLatencyChart({ title, caption, panels, floors })
      : noDataChart(
          { width: WIDTH, title, caption },
          noData(e2e?.error ? e2e : base, 'no latency was measured'),
        );
  return { name: 'latency', section, alt, svg };
}

/**
 * The pipelines of the latency benchmark: e2e-latency's, or (reports before the pipelines ran
 * interleaved in e2e-latency) orders-live from e2e-latency and the references from baseline.
 */
function latencyPipelines(
  e2e: BenchResult | undefined,
  base: BenchResult | undefined,
): { id: string; label: string; steps: unknown[] }[] {
  const interleaved = obj(e2e?.data).pipelines;
  if (Array.isArray(interleaved)) {
    return interleaved.map(obj).map((p) => ({
      id: String(p.id ?? '?'),
      label: String(p.label ?? p.key ?? ''),
      steps: arr(p.steps),
    }));
  }
  const pipelines = [{ id: '(a)', label: 'orders-live', steps: arr(obj(e2e?.data).steps) }];
  Object.entries(obj(base?.data)).forEach(([key, value], i) => {
    const id = `(${String.fromCharCode(98 + i)})`;
    pipelines.push({ id, label: REFERENCE_LABELS[key] ?? key, steps: arr(obj(value).steps) });
  });
  return pipelines;
}

/** The step's percentile curve, or (results before curves were kept) its p50, p95 and p99. */
function latencySeries(id: string, label: string, step: Json): LatencySeries {
  const latency = obj(step.latency);
  const curve = arr(step.curve).map((q) => ({ p: num(obj(q).p), ms: num(obj(q).ms) }));
  const points: PercentilePoint[] =
    curve.length > 0 ? curve : [50, 95, 99].map((p) => ({ p, ms: num(latency[`p${p}`]) }));
  return { id, label, points: points.filter((q) => Number.isFinite(q.p)), maxMs: num(latency.max) };
}

function throughputChart(run: RunReport, caption: string): RunChart | undefined {
  const result = resultOf(run, 'throughput');
  if (!result) return undefined;
  const data = obj(result.data);
  const attempts: LadderAttempt[] = arr(data.attempts)
    .map(obj)
    .map((a) => ({
      phase: a.phase === 'confirm' ? 'confirm' : 'probe',
      rate: num(a.rate),
      seconds: num(a.seconds),
      p50: num(obj(a.lag).p50),
      p99: num(obj(a.lag).p99),
      max: num(obj(a.lag).max),
      held: a.passed === true,
    }));
  const sustained = num(data.sustained);
  const limitMs = num(data.maxLagMs) > 0 ? num(data.maxLagMs) : DEFAULT_MAX_LAG_MS;
  const held = sustained > 0 ? `${sustained.toLocaleString('en-US')} events/s held` : 'no rate held';
  const naive = num(obj(data.naive).sustained);
  const beside = Number.isFinite(naive)
    ? `; the naive pattern (b) beside it: ${naive > 0 ? `${naive.toLocaleString('en-US')}/s` : 'none'}`
    : '';
  const title = `Throughput ladder, orders-live: ${held} (lag < ${limitMs / 1000} s)${beside}`;
  const alt = 'Lag p50, p99 and max of each attempted rate, and whether it held';
  const valid = attempts.filter((a) => Number.isFinite(a.rate));
  const svg =
    valid.length > 0
      ? renderThroughputChart({ title, caption, limitMs, attempts: valid })
      : noDataChart({ width: WIDTH, title, caption }, noData(result, 'no rate was attempted'));
  return { name: 'throughput', section: 'throughput', alt, svg };
}

function captureCostChart(run: RunReport, caption: string): RunChart | undefined {
  const result = resultOf(run, 'capture-cost');
  if (!result) return undefined;
  const data = obj(result.data);
  const runs = arr(data.runs)
    .map(obj)
    .map((r) => ({
      variant: String(r.variant),
      writers: num(r.writers),
      rep: num(r.repetition),
      tps: num(r.tps),
    }))
    .filter((r) => Number.isFinite(r.writers) && Number.isFinite(r.tps));
  const variants = captureVariants(data, runs);
  const writerCounts = [...new Set(runs.map((r) => r.writers))].sort((a, b) => a - b);
  const seconds = num(data.pgbenchSeconds);
  const groups = writerCounts.map((writers) => {
    const these = runs.filter((r) => r.writers === writers);
    const reps = new Set(these.map((r) => r.rep)).size;
    const each = Number.isFinite(seconds) ? ` × ${seconds} s` : '';
    return {
      title: `${writers} writer${writers === 1 ? '' : 's'}: median of ${reps}${each}, whisker min–max`,
      bars: variants.map((v) => captureBar(v, these)),
    };
  });
  const title = 'Capture cost: single-row UPDATE throughput per capture variant (pgbench)';
  const alt = 'pgbench transactions per second of each capture variant, median and min–max';
  const svg =
    runs.length > 0
      ? renderCaptureCostChart({ title, caption, groups })
      : noDataChart({ width: WIDTH, title, caption }, noData(result, 'no pgbench run finished'));
  return { name: 'capture-cost', section: 'capture-cost', alt, svg };
}

interface VariantInfo {
  id: string;
  short: string;
  kind: CaptureKind;
}

/** The variants as the report lists them, else as this code does, else their letters. */
function captureVariants(data: Json, runs: readonly { variant: string }[]): VariantInfo[] {
  const listed = arr(data.variants).map(obj);
  const ids = listed.length > 0 ? listed.map((v) => String(v.id)) : [...new Set(runs.map((r) => r.variant))];
  return ids.map((id) => {
    const v = listed.find((l) => l.id === id) ?? obj(CAPTURE_VARIANTS.find((c) => c.id === id));
    const kind: CaptureKind =
      id === 'a' ? 'baseline' : id === 'b' ? 'naive' : v.bridge === true ? 'pipeline' : 'capture';
    return { id, short: typeof v.short === 'string' ? v.short : '', kind };
  });
}

function captureBar(
  variant: VariantInfo,
  runs: readonly { variant: string; rep: number; tps: number }[],
): CaptureBar {
  const mine = runs.filter((r) => r.variant === variant.id);
  const s = spread(mine.map((r) => r.tps));
  // Ratios within a repetition, as the report's table takes them: drift hits both alike.
  const ratios = mine.flatMap((r) => {
    const base = runs.find((b) => b.variant === 'a' && b.rep === r.rep);
    return base && base.tps > 0 ? [r.tps / base.tps] : [];
  });
  return {
    id: `(${variant.id})`,
    label: variant.short,
    kind: variant.kind,
    median: s.median,
    min: s.min,
    max: s.max,
    ratio: spread(ratios).median,
  };
}
