// The live chart's numbers (web/src/second-buckets.ts): events and latency percentiles per
// wall-clock second over the last few minutes.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSecondBuckets } from '../../web/src/second-buckets.js';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0); // a whole second

describe('second buckets', () => {
  it('counts events in the second they were drawn and gives each second its own percentiles', () => {
    const buckets = createSecondBuckets(5);
    buckets.add(T0 + 10, 3, [10, 20, 30]);
    buckets.add(T0 + 990, 1, []); // replayed: counted, no latency
    buckets.add(
      T0 + 1_000,
      100,
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    buckets.add(T0 + 3_500, 2, [5, 7]);
    expect(buckets.series(T0 + 4_000)).toEqual([
      { second: T0 / 1_000 - 1, events: 0, p50: null, p99: null },
      { second: T0 / 1_000, events: 4, p50: 20, p99: 30 },
      { second: T0 / 1_000 + 1, events: 100, p50: 50, p99: 99 },
      { second: T0 / 1_000 + 2, events: 0, p50: null, p99: null },
      { second: T0 / 1_000 + 3, events: 2, p50: 5, p99: 7 },
    ]);
  });

  it('shows a second only once it is over, and forgets seconds older than the window', () => {
    const buckets = createSecondBuckets(3);
    buckets.add(T0, 7, []);
    expect(buckets.series(T0 + 999).map((s) => s.events)).toEqual([0, 0, 0]);
    expect(buckets.series(T0 + 1_000).map((s) => s.events)).toEqual([0, 0, 7]);
    buckets.add(T0 + 1_200, 1, []);
    expect(buckets.series(T0 + 3_999).map((s) => s.events)).toEqual([7, 1, 0]);
    expect(buckets.series(T0 + 4_000).map((s) => s.events)).toEqual([1, 0, 0]);
    // A slot written again for a later second no longer answers for the earlier one.
    buckets.add(T0 + 6_100, 4, []);
    expect(buckets.series(T0 + 7_000).map((s) => s.events)).toEqual([0, 0, 4]);
  });

  it('counts a frame drawn after the clock was set back in the second it was counting', () => {
    const buckets = createSecondBuckets(3);
    buckets.add(T0 + 2_000, 1, []);
    buckets.add(T0 + 500, 2, [1]);
    expect(buckets.series(T0 + 3_000).map((s) => s.events)).toEqual([0, 0, 3]);
  });

  it('for any frames, the seconds shown add up to the events drawn in them', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ gapMs: fc.nat({ max: 2_500 }), events: fc.nat({ max: 5_000 }) }), {
          maxLength: 200,
        }),
        fc.nat({ max: 30_000 }),
        (seconds, frames, laterMs) => {
          const buckets = createSecondBuckets(seconds);
          let at = T0;
          const drawn: { second: number; events: number }[] = [];
          for (const frame of frames) {
            at += frame.gapMs;
            buckets.add(at, frame.events, []);
            drawn.push({ second: Math.floor(at / 1_000), events: frame.events });
          }
          const now = at + laterMs;
          const series = buckets.series(now);
          const nowSecond = Math.floor(now / 1_000);
          const inWindow = drawn.filter((d) => d.second >= nowSecond - seconds && d.second < nowSecond);
          expect(series).toHaveLength(seconds);
          expect(series.reduce((sum, s) => sum + s.events, 0)).toBe(
            inWindow.reduce((sum, d) => sum + d.events, 0),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
