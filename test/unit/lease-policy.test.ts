// When the leader holds the doorbell's lease: from the rate its drains hand over, with hysteresis.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLeasePolicy } from '../../src/bridge/lease-policy.js';

/** Drains every `everyMs`, each handing over what arrived at `perSecond` since the last. */
function steady(
  policy: ReturnType<typeof createLeasePolicy>,
  perSecond: number,
  everyMs: number,
  fromMs: number,
  forMs: number,
): boolean[] {
  const held: boolean[] = [];
  for (let t = fromMs + everyMs; t <= fromMs + forMs; t += everyMs) {
    held.push(policy.observe(Math.round((perSecond * everyMs) / 1000), t));
  }
  return held;
}

describe('createLeasePolicy', () => {
  it('never holds the lease below the rate, so every event rings', () => {
    const policy = createLeasePolicy({ leaseAbovePerSecond: 1_000, releaseAfterMs: 250 });
    // 100 events/s: one event per drain, a drain every 10 ms, for 10 s.
    expect(steady(policy, 100, 10, 0, 10_000).some(Boolean)).toBe(false);
  });

  it('takes the lease within a few drains above the rate', () => {
    const policy = createLeasePolicy({ leaseAbovePerSecond: 1_000, releaseAfterMs: 250 });
    // 3,000 events/s: three per drain, a drain every millisecond.
    const held = steady(policy, 3_000, 1, 0, 50);
    expect(held.indexOf(true)).toBeGreaterThanOrEqual(7);
    expect(held.indexOf(true)).toBeLessThanOrEqual(8);
    expect(held.slice(held.indexOf(true)).every(Boolean)).toBe(true);
  });

  it('keeps it through a dip above half the rate, and lets it go once the last release time averaged below half', () => {
    const policy = createLeasePolicy({ leaseAbovePerSecond: 1_000, releaseAfterMs: 250 });
    steady(policy, 2_000, 2, 0, 1_000);
    expect(policy.held).toBe(true);
    // 500 ms at 600/s (three events every 5 ms): above half, still held.
    expect(steady(policy, 600, 5, 1_000, 500).every(Boolean)).toBe(true);
    // Then nothing: the 250 ms average falls below 500/s once 42 ms are quiet.
    const quiet = steady(policy, 0, 2, 1_500, 400);
    const released = quiet.indexOf(false);
    expect((released + 1) * 2).toBeGreaterThan(41);
    expect((released + 1) * 2).toBeLessThanOrEqual(46);
    expect(quiet.slice(released).some(Boolean)).toBe(false);
  });

  it('at 0 holds it whenever there is work and lets it go after the release time without any', () => {
    const policy = createLeasePolicy({ leaseAbovePerSecond: 0, releaseAfterMs: 250 });
    expect(policy.observe(0, 0)).toBe(false);
    expect(policy.observe(1, 5)).toBe(true);
    expect(policy.observe(0, 200)).toBe(true);
    expect(policy.observe(0, 254)).toBe(true);
    expect(policy.observe(0, 256)).toBe(false);
  });

  it('holds only at or above half the rate once held, and its memory stays small (any drains)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 50 }), events: fc.nat(20) }), { maxLength: 500 }),
        (drains) => {
          const policy = createLeasePolicy({ leaseAbovePerSecond: 500, releaseAfterMs: 100 });
          let now = 0;
          const seen: { at: number; events: number }[] = [];
          let wasHeld = false;
          for (const { gap, events } of drains) {
            now += gap;
            seen.push({ at: now, events });
            const held = policy.observe(events, now);
            if (held && !wasHeld) {
              // Taken: the last eight drains with work ran at 500 events/s or more.
              const work = seen.filter((d) => d.events > 0).slice(-8);
              expect(work.length).toBe(8);
            }
            if (!held && wasHeld) {
              // Released: fewer than 250 events/s over the last 100 ms.
              const recent = seen.filter((d) => d.at > now - 100).reduce((n, d) => n + d.events, 0);
              expect(recent * 10).toBeLessThan(250);
            }
            wasHeld = held;
          }
        },
      ),
    );
  });
});
