// Reads a process's /metrics (Prometheus text format): counters, and histograms as deltas over a
// measurement window, with quantiles estimated the way Prometheus does (linear within a bucket).

/** Sample values keyed by `name{labels}` exactly as printed. */
export type MetricSamples = Map<string, number>;

export interface Histogram {
  /** Cumulative counts by upper bound, ascending; the last is +Inf. */
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

export async function scrapeMetrics(baseUrl: string): Promise<MetricSamples> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}`);
  const samples: MetricSamples = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\S+?(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

/** A counter or gauge without labels (0 when absent). */
export function metricValue(samples: MetricSamples, name: string): number {
  return samples.get(name) ?? 0;
}

export function readHistogram(samples: MetricSamples, name: string): Histogram {
  const buckets: { le: number; count: number }[] = [];
  const prefix = `${name}_bucket{le="`;
  for (const [key, value] of samples) {
    if (!key.startsWith(prefix)) continue;
    const le = key.slice(prefix.length, key.indexOf('"', prefix.length));
    buckets.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: value });
  }
  buckets.sort((a, b) => a.le - b.le);
  return { buckets, sum: samples.get(`${name}_sum`) ?? 0, count: samples.get(`${name}_count`) ?? 0 };
}

/** What was observed between two scrapes. */
export function histogramDelta(after: Histogram, before: Histogram): Histogram {
  return {
    buckets: after.buckets.map((b, i) => ({ le: b.le, count: b.count - (before.buckets[i]?.count ?? 0) })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/** The q-quantile (0–1), interpolated within its bucket; NaN when nothing was observed. */
export function histogramQuantile(h: Histogram, q: number): number {
  if (h.count <= 0) return Number.NaN;
  const rank = q * h.count;
  let lower = 0;
  let below = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lower; // past the last bound: report the bound
      const inBucket = b.count - below;
      return inBucket > 0 ? lower + ((b.le - lower) * (rank - below)) / inBucket : b.le;
    }
    lower = b.le;
    below = b.count;
  }
  return lower;
}

export function histogramMean(h: Histogram): number {
  return h.count > 0 ? h.sum / h.count : Number.NaN;
}
