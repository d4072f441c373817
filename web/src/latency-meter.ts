// Commit → screen latency: how long after PostgreSQL captured a change it was drawn on this page.
// Keeps the last samples in a ring and answers rolling percentiles; pure, no DOM.
//
// The server's clock (occurred_at) and the browser's are compared, so on another machine the
// figure includes their skew; on one machine (or NTP-synced ones) it is the real delay.

/** Samples kept: at 1,000 events/s that is the last second; at low rates, the last hour's. */
export const LATENCY_SAMPLES = 1_000;

export interface LatencyMeter {
  /**
   * Records one event drawn at `renderedAtMs` (epoch ms) that was captured at `occurredAt` (ISO);
   * returns its latency in ms (NaN, and nothing recorded, when `occurredAt` is not a date), which
   * the live chart takes too instead of parsing the date again.
   */
  record(occurredAt: string, renderedAtMs: number): number;
  /** Percentiles over the kept samples, in ms; null before the first sample. */
  summary(): { p50: number; p99: number; count: number } | null;
}

export function createLatencyMeter(capacity = LATENCY_SAMPLES): LatencyMeter {
  const samples = new Float64Array(capacity);
  let next = 0;
  let filled = 0;
  return {
    record(occurredAt, renderedAtMs) {
      const occurred = Date.parse(occurredAt);
      if (Number.isNaN(occurred)) return Number.NaN;
      const latency = Math.max(0, renderedAtMs - occurred);
      samples[next] = latency;
      next = (next + 1) % capacity;
      filled = Math.min(filled + 1, capacity);
      return latency;
    },
    summary() {
      if (filled === 0) return null;
      const sorted = samples.slice(0, filled).sort();
      return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), count: filled };
    },
  };
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: Float64Array, p: number): number {
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1] ?? 0;
}
