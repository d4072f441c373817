// The header's latency readouts (web/src/latency-meter.ts, sample-window.ts): commit → screen and
// its last stage, socket → screen, over the same last live events, with rolling percentiles.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLatencyMeter, type LiveSample } from '../../web/src/latency-meter.js';
import { createSampleWindow } from '../../web/src/sample-window.js';

const T0 = Date.parse('2026-11-24T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** Nearest-rank percentile, spelled out. */
function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1]!;
}

describe('sample window', () => {
  it('answers nearest-rank p50 and p99 over the kept samples, the newest replacing the oldest', () => {
    const window = createSampleWindow(100);
    expect(window.summary()).toBeNull();
    for (let ms = 1; ms <= 100; ms++) window.add(ms);
    expect(window.summary()).toEqual({ p50: 50, p99: 99, count: 100 });
    window.add(5_000); // 1 leaves
    expect(window.summary()).toEqual({ p50: 51, p99: 100, count: 100 });
  });

  it('refuses a capacity that holds nothing', () => {
    expect(() => createSampleWindow(0)).toThrow(RangeError);
    expect(() => createSampleWindow(2.5)).toThrow(RangeError);
  });

  it('always summarises exactly the last `capacity` samples', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 60 }),
        (capacity, samples) => {
          const window = createSampleWindow(capacity);
          for (const ms of samples) window.add(ms);
          const kept = samples.slice(-capacity);
          expect(window.summary()).toEqual({
            p50: nearestRank(kept, 0.5),
            p99: nearestRank(kept, 0.99),
            count: kept.length,
          });
        },
      ),
    );
  });
});

describe('latency meter', () => {
  it('measures both stages of an event up to the end of the frame that drew it', () => {
    const meter = createLatencyMeter(10);
    // Captured at T0, received 6 ms later (performance.now() 1,000), its frame done 14 ms after that.
    const samples: LiveSample[] = [
      { occurredAt: iso(T0), receivedAt: 1_000 },
      { occurredAt: iso(T0 + 2), receivedAt: 1_001 },
    ];
    expect(meter.record(samples, { wallMs: T0 + 20, monoMs: 1_014 })).toEqual([20, 18]);
    expect(meter.summary()).toEqual({
      commit: { p50: 18, p99: 20, count: 2 },
      socket: { p50: 13, p99: 14, count: 2 },
    });
  });

  it('leaves an event whose occurred_at is not a date out of both stages', () => {
    const meter = createLatencyMeter(10);
    const latencies = meter.record([{ occurredAt: 'yesterday', receivedAt: 0 }], { wallMs: T0, monoMs: 5 });
    expect(latencies).toEqual([Number.NaN]);
    expect(meter.summary()).toBeNull();
  });

  it('keeps the same events in both stages: the oldest leave both together', () => {
    const meter = createLatencyMeter(2);
    meter.record([{ occurredAt: iso(T0), receivedAt: 0 }], { wallMs: T0 + 500, monoMs: 400 });
    meter.record([{ occurredAt: iso(T0), receivedAt: 0 }], { wallMs: T0 + 30, monoMs: 10 });
    meter.record([{ occurredAt: iso(T0), receivedAt: 0 }], { wallMs: T0 + 40, monoMs: 20 });
    expect(meter.summary()).toEqual({
      commit: { p50: 30, p99: 40, count: 2 },
      socket: { p50: 10, p99: 20, count: 2 },
    });
  });

  it('never shows socket → screen above commit → screen while the clocks agree', () => {
    // Each event is received some time after it was captured (at least 10 µs: far above the
    // rounding of the clocks' sums here), and drawn by a frame done after that;
    // performance.now() is Date.now() less the page's time origin.
    const event = fc.record({
      occurredMs: fc.integer({ min: 0, max: 10_000 }),
      toSocketMs: fc.double({ min: 0.01, max: 500, noNaN: true }),
      toScreenMs: fc.double({ min: 0, max: 500, noNaN: true }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(event, { minLength: 1, maxLength: 100 }),
        (capacity, events) => {
          const origin = T0 - 123_456.5;
          const meter = createLatencyMeter(capacity);
          for (const { occurredMs, toSocketMs, toScreenMs } of events) {
            const received = T0 + occurredMs + toSocketMs;
            const done = received + toScreenMs;
            meter.record([{ occurredAt: iso(T0 + occurredMs), receivedAt: received - origin }], {
              wallMs: Math.ceil(done), // Date.now() is whole milliseconds, never earlier
              monoMs: done - origin,
            });
          }
          const summary = meter.summary()!;
          expect(summary.socket.p50).toBeLessThanOrEqual(summary.commit.p50);
          expect(summary.socket.p99).toBeLessThanOrEqual(summary.commit.p99);
          expect(summary.socket.count).toBe(summary.commit.count);
        },
      ),
    );
  });
});
