// Statistics for the reports: percentiles of latency samples and min/median/max of repetitions.
// Pure functions, no I/O.

/** Spread of a figure measured several times. */
export interface Spread {
  min: number;
  median: number;
  max: number;
  /** How many repetitions it summarises. */
  n: number;
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** The p-th percentile (0–100) of ascending `sorted`, nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN, n };
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[n - 1]!, n };
}

/** Percentiles of latency samples (any order; the input is not modified). */
export function summarizeLatency(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

/** The percentiles a latency curve is drawn through (bench/lib/charts.ts): the tail, not a mean. */
export const CURVE_PERCENTILES = [50, 75, 90, 95, 99, 99.9] as const;

/** One point of a latency curve: the p-th percentile (0–100) is `ms`. */
export interface PercentilePoint {
  p: number;
  ms: number;
}

/** Latency at each of CURVE_PERCENTILES (any order; the input is not modified); [] when empty. */
export function percentileCurve(samples: ArrayLike<number>): PercentilePoint[] {
  if (samples.length === 0) return [];
  const sorted = Float64Array.from(samples).sort();
  return CURVE_PERCENTILES.map((p) => ({ p, ms: percentile(sorted, p) }));
}

/** Joins sample arrays of several repetitions into one. */
export function concatSamples(parts: readonly ArrayLike<number>[]): Float64Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Float64Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part as ArrayLike<number>, offset);
    offset += part.length;
  }
  return out;
}

/** A number with a sensible number of digits for a table. */
export function fmt(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return '–';
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "median (min–max)". */
export function fmtSpread(s: Spread, digits?: number): string {
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

/** A ratio of two spreads' medians, with the range of ratios across pairs of repetitions. */
export function ratioSpread(numerators: readonly number[], denominators: readonly number[]): Spread {
  const ratios = numerators.map((v, i) => v / denominators[i]!);
  return spread(ratios);
}
