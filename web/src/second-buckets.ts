// Per wall-clock second: how many events the page drew and the commit → screen percentiles of
// that second's live ones, for the live chart, kept for the last `seconds` seconds in a ring.
// Pure, no DOM (test/unit/web-second-buckets.test.ts).
//
// A second's latencies are kept only until the second is over, then sorted once for its p50 and
// p99: a burst of 5,000 events a second costs one sort of at most 5,000 numbers a second.
// pending-changes.ts passes at most 1,000 latencies a frame, so a second holds at most 60,000.

import { percentile } from './sample-window.js';

export interface SecondStats {
  /** Epoch second (ms / 1000, floored). */
  second: number;
  events: number;
  /** ms; null when no live event was drawn in that second. */
  p50: number | null;
  p99: number | null;
}

export interface SecondBuckets {
  /**
   * `events` drawn at `atMs` (epoch ms), with the latencies (ms) of those that have one. A call
   * for an earlier second than the last one (the clock was set back) counts in the last one.
   */
  add(atMs: number, events: number, latencies: readonly number[]): void;
  /** The `seconds` whole seconds before the one of `nowMs`, oldest first (none: 0 events, null). */
  series(nowMs: number): SecondStats[];
}

export function createSecondBuckets(seconds: number): SecondBuckets {
  const secondAt = new Float64Array(seconds).fill(-1);
  const counts = new Float64Array(seconds);
  const p50s = new Float64Array(seconds);
  const p99s = new Float64Array(seconds);
  /** The second being counted; its numbers reach the ring when it is over. */
  let current = Number.NEGATIVE_INFINITY;
  let count = 0;
  let samples: number[] = [];
  const slotOf = (second: number) => ((second % seconds) + seconds) % seconds;

  /** Writes the current second's numbers into its slot of the ring. */
  function close(): void {
    if (count === 0 && samples.length === 0) return;
    const slot = slotOf(current);
    secondAt[slot] = current;
    counts[slot] = count;
    const sorted = Float64Array.from(samples).sort();
    p50s[slot] = sorted.length > 0 ? percentile(sorted, 0.5) : Number.NaN;
    p99s[slot] = sorted.length > 0 ? percentile(sorted, 0.99) : Number.NaN;
    count = 0;
    samples = [];
  }

  /** Time has reached `second`: the one counted so far is over when it is earlier. */
  function advance(second: number): void {
    if (second <= current) return;
    close();
    current = second;
  }

  return {
    add(atMs, events, latencies) {
      advance(Math.floor(atMs / 1_000));
      count += events;
      for (const latency of latencies) if (Number.isFinite(latency)) samples.push(latency);
    },
    series(nowMs) {
      const now = Math.floor(nowMs / 1_000);
      advance(now);
      const out: SecondStats[] = [];
      for (let second = now - seconds; second < now; second += 1) {
        const slot = slotOf(second);
        if (secondAt[slot] !== second) {
          out.push({ second, events: 0, p50: null, p99: null });
          continue;
        }
        const p50 = p50s[slot]!;
        const p99 = p99s[slot]!;
        out.push({
          second,
          events: counts[slot]!,
          p50: Number.isNaN(p50) ? null : p50,
          p99: Number.isNaN(p99) ? null : p99,
        });
      }
      return out;
    },
  };
}
