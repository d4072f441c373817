// The confirm window: batches confirmed in any order move the watermark only over a confirmed
// prefix; it never passes a batch still waiting, and never holds more than its capacity.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createConfirmWindow } from '../../src/bridge/confirm-window.js';

describe('createConfirmWindow', () => {
  it('moves the watermark over confirmed batches in position order only', () => {
    const window = createConfirmWindow(3, 10);
    const a = window.add(15);
    const b = window.add(20);
    const c = window.add(21);
    expect(window.full).toBe(true);
    expect(window.confirm(b)).toBeNull(); // 11–15 still waits
    expect(window.watermark).toBe(10);
    expect(window.confirm(a)).toBe(20); // both now
    expect(window.inFlight).toBe(1);
    expect(window.full).toBe(false);
    expect(window.confirm(c)).toBe(21);
    expect(window.inFlight).toBe(0);
  });

  it('refuses a batch that does not continue the positions, or one too many', () => {
    const window = createConfirmWindow(1, 10);
    expect(() => window.add(10)).toThrow(/not above 10/);
    window.add(11);
    expect(() => window.add(12)).toThrow(/full/);
    expect(() => window.confirm(7)).toThrow(/not in flight/);
  });

  it('never passes a waiting batch, whatever the order of confirms (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (capacity, sizes, choices) => {
          const window = createConfirmWindow(capacity, 0);
          const waiting: { id: number; first: number; last: number }[] = [];
          const confirmed = new Set<number>();
          let next = 1;
          let sizeIndex = 0;
          let choice = 0;
          while (sizeIndex < sizes.length || waiting.length > 0) {
            // Fill while there is room and work, as the relay does; then confirm one at random.
            while (!window.full && sizeIndex < sizes.length) {
              const first = next;
              next += sizes[sizeIndex++]!;
              waiting.push({ id: window.add(next - 1), first, last: next - 1 });
            }
            expect(window.inFlight).toBeLessThanOrEqual(capacity);
            const pick = waiting.splice((choices[choice++] ?? 0) % waiting.length, 1)[0]!;
            for (let p = pick.first; p <= pick.last; p++) confirmed.add(p);
            const before = window.watermark;
            const moved = window.confirm(pick.id);
            // The watermark is exactly the confirmed prefix of positions (batches end on it).
            let prefix = 0;
            while (confirmed.has(prefix + 1)) prefix++;
            expect(window.watermark).toBe(prefix);
            expect(moved === null).toBe(window.watermark === before);
          }
          expect(window.watermark).toBe(next - 1);
          expect(window.inFlight).toBe(0);
        },
      ),
    );
  });
});
