// The last `capacity` samples of one measure (ms) in a ring, and their nearest-rank percentiles:
// what each latency readout of the header rolls over. Pure, no DOM.

export interface WindowSummary {
  p50: number;
  p99: number;
  /** Samples the percentiles are over: at most the window's capacity. */
  count: number;
}

export interface SampleWindow {
  /** Adds a sample; once full, it replaces the oldest one. */
  add(ms: number): void;
  /** Percentiles over the kept samples; null before the first one. */
  summary(): WindowSummary | null;
}

export function createSampleWindow(capacity: number): SampleWindow {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${capacity}`);
  const samples = new Float64Array(capacity);
  let next = 0;
  let filled = 0;
  return {
    add(ms) {
      samples[next] = ms;
      next = (next + 1) % capacity;
      filled = Math.min(filled + 1, capacity);
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
