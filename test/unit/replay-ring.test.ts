// The replay ring (src/gateway/replay-ring.ts): it only ever holds a contiguous range, so a slice
// of it is exactly the events after a position — or null, and the resume reads the log.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createReplayRing } from '../../src/gateway/replay-ring.js';
import { envelope, envelopes, positions } from '../helpers/events.js';

describe('replay ring', () => {
  it('serves the events after a position it reaches back to', () => {
    const ring = createReplayRing(10, 0);
    ring.append(envelopes(1, 5));
    expect(positions(ring.after(2, 100)!)).toEqual([3, 4, 5]);
    expect(positions(ring.after(0, 2)!)).toEqual([1, 2]);
    expect(ring.after(5, 100)).toEqual([]);
    expect(ring.after(6, 100)).toBeNull();
  });

  it('forgets the oldest beyond its capacity', () => {
    const ring = createReplayRing(10, 0);
    for (let p = 1; p <= 100; p++) ring.append([envelope(p)]);
    expect(ring.end).toBe(100);
    expect(ring.after(89, 100)).toBeNull();
    expect(positions(ring.after(90, 100)!)).toEqual(positions(envelopes(91, 100)));
  });

  it('refuses repeats and restarts after a hole', () => {
    const ring = createReplayRing(10, 0);
    ring.append(envelopes(1, 3));
    expect(ring.append([envelope(2), envelope(3)])).toEqual({ refused: 2, restarted: false });
    expect(ring.append([envelope(7), envelope(8)])).toEqual({ refused: 0, restarted: true });
    expect(ring.first).toBe(7);
    expect(ring.after(3, 100)).toBeNull(); // 4–6 were never seen: only the log can say
    expect(positions(ring.after(6, 100)!)).toEqual([7, 8]);
  });

  it('continues after a reset position', () => {
    const ring = createReplayRing(10, 0);
    ring.append(envelopes(1, 3));
    ring.reset(9);
    expect(ring.end).toBe(9);
    expect(ring.after(3, 100)).toBeNull();
    ring.append([envelope(10)]);
    expect(positions(ring.after(9, 100)!)).toEqual([10]);
  });

  it('whatever it is given, any slice it serves continues its position by exactly one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.array(fc.integer({ min: 1, max: 80 }), { maxLength: 8 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 90 }), { maxLength: 10 }),
        (capacity, batches, probes) => {
          const ring = createReplayRing(capacity, 0);
          for (const batch of batches) {
            ring.append(batch.map(envelope));
            for (const after of probes) {
              const slice = ring.after(after, 1_000);
              if (slice === null) continue;
              expect(positions(slice)).toEqual(
                Array.from({ length: ring.end - after }, (_, i) => after + 1 + i),
              );
              expect(slice.length).toBeLessThanOrEqual(capacity);
            }
          }
        },
      ),
    );
  });
});
