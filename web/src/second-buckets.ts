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
  return new SecondRing(seconds);
}

class SecondRing implements SecondBuckets {
  private readonly seconds: number;
  private readonly secondAt: Float64Array;
  private readonly counts: Float64Array;
  private readonly p50s: Float64Array;
  private readonly p99s: Float64Array;
  /** The second being counted; its numbers reach the ring when it is over. */
  private current = Number.NEGATIVE_INFINITY;
  private count = 0;
  private samples: number[] = [];

  constructor(seconds: number) {
    this.seconds = seconds;
    this.secondAt = new Float64Array(seconds).fill(-1);
    this.counts = new Float64Array(seconds);
    this.p50s = new Float64Array(seconds);
    this.p99s = new Float64Array(seconds);
  }

  add(atMs: number, events: number, latencies: readonly number[]): void {
    this.advance(Math.floor(atMs / 1_000));
    this.count += events;
    for (const latency of latencies) if (Number.isFinite(latency)) this.samples.push(latency);
  }

  series(nowMs: number): SecondStats[] {
    const now = Math.floor(nowMs / 1_000);
    this.advance(now);
    const out: SecondStats[] = [];
    for (let second = now - this.seconds; second < now; second += 1) out.push(this.statsOf(second));
    return out;
  }

  /** A past second's numbers, or none when the ring holds no count of it. */
  private statsOf(second: number): SecondStats {
    const slot = this.slotOf(second);
    if (this.secondAt[slot] !== second) return { second, events: 0, p50: null, p99: null };
    const p50 = this.p50s[slot]!;
    const p99 = this.p99s[slot]!;
    return {
      second,
      events: this.counts[slot]!,
      p50: Number.isNaN(p50) ? null : p50,
      p99: Number.isNaN(p99) ? null : p99,
    };
  }

  private slotOf(second: number): number {
    return ((second % this.seconds) + this.seconds) % this.seconds;
  }

  /** Writes the current second's numbers into its slot of the ring. */
  private close(): void {
    if (this.count === 0 && this.samples.length === 0) return;
    const slot = this.slotOf(this.current);
    this.secondAt[slot] = this.current;
    this.counts[slot] = this.count;
    const sorted = Float64Array.from(this.samples).sort();
    this.p50s[slot] = sorted.length > 0 ? percentile(sorted, 0.5) : Number.NaN;
    this.p99s[slot] = sorted.length > 0 ? percentile(sorted, 0.99) : Number.NaN;
    this.count = 0;
    this.samples = [];
  }

  /** Time has reached `second`: the one counted so far is over when it is earlier. */
  private advance(second: number): void {
    if (second <= this.current) return;
    this.close();
    this.current = second;
  }
}
