// What the feed just published, kept for the per-event relay: whatever the feed publishes (batches
// in order, batches republished after a failure, positions the log lost) and whatever the relay
// takes and drops, a take returns exactly the log's events from the position asked for, without
// a gap, or null.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRecentEvents } from '../../src/bridge/recent-events.js';
import type { RawEvent } from '../../src/db/event-log.js';
import { rawEvent } from '../helpers/events.js';

const event = rawEvent;
const events = (...positions: number[]) => positions.map(event);
const positionsOf = (list: readonly RawEvent[] | null) => list?.map((e) => e.position) ?? null;

describe('createRecentEvents', () => {
  it('hands back a published run from any kept position, bounded by through and max', () => {
    const recent = createRecentEvents(100);
    recent.add(events(1, 2, 3));
    recent.add(events(4, 5));
    expect(positionsOf(recent.take(1, 5, 10))).toEqual([1, 2, 3, 4, 5]);
    expect(positionsOf(recent.take(2, 3, 10))).toEqual([2, 3]);
    expect(positionsOf(recent.take(2, 5, 2))).toEqual([2, 3]);
    expect(recent.take(6, 9, 10)).toBeNull();
    recent.dropThrough(3);
    expect(recent.size).toBe(2);
    expect(recent.take(3, 5, 10)).toBeNull();
    expect(positionsOf(recent.take(4, 5, 10))).toEqual([4, 5]);
  });

  it('ignores a republished batch and starts a new run after a gap', () => {
    const recent = createRecentEvents(100);
    recent.add(events(1, 2, 3));
    recent.add(events(2, 3)); // republished after a failure
    expect(positionsOf(recent.take(1, 9, 10))).toEqual([1, 2, 3]);
    recent.add(events(6, 7)); // 4 and 5 were lost from the log
    expect(recent.take(3, 9, 10)).toBeNull();
    expect(recent.take(4, 9, 10)).toBeNull();
    expect(positionsOf(recent.take(6, 9, 10))).toEqual([6, 7]);
  });

  it('keeps at most its capacity, dropping the oldest', () => {
    const recent = createRecentEvents(3);
    recent.add(events(1, 2, 3, 4, 5));
    expect(recent.size).toBe(3);
    expect(recent.take(2, 5, 10)).toBeNull();
    expect(positionsOf(recent.take(3, 5, 10))).toEqual([3, 4, 5]);
  });

  it('returns only the log’s own events from the asked position on, whatever the interleaving (property)', () => {
    const command = fc.oneof(
      fc.record({ kind: fc.constant('publish' as const), size: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ kind: fc.constant('republish' as const), back: fc.integer({ min: 1, max: 10 }) }),
      fc.record({ kind: fc.constant('lose' as const), count: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('step' as const), max: fc.integer({ min: 1, max: 12 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(command, { maxLength: 60 }),
        (capacity, commands) => {
          const recent = createRecentEvents(capacity);
          /** The log: positions numbered so far, and the ones it lost (never published). */
          let numbered = 0;
          const lost = new Set<number>();
          let lostNext = 0;
          /** Batches the feed published, in order. */
          const published: RawEvent[][] = [];
          let feedThrough = 0;
          let relayDone = 0;
          for (const c of commands) {
            if (c.kind === 'publish') {
              const batch: RawEvent[] = [];
              for (let i = 0; i < c.size; i++) {
                numbered += 1;
                if (lostNext > 0) {
                  lost.add(numbered);
                  lostNext -= 1;
                } else batch.push(event(numbered));
              }
              feedThrough = numbered;
              published.push(batch);
              recent.add(batch);
            } else if (c.kind === 'republish') {
              const batch = published.at(-Math.min(c.back, published.length));
              if (batch) recent.add(batch);
            } else if (c.kind === 'lose') {
              lostNext += c.count;
            } else {
              const kept = recent.take(relayDone + 1, feedThrough, c.max);
              if (kept) {
                const from = relayDone + 1;
                expect(kept.length).toBeGreaterThan(0);
                expect(kept.length).toBeLessThanOrEqual(c.max);
                expect(kept.map((e) => e.position)).toEqual(kept.map((_, i) => from + i));
                for (const e of kept) expect(lost.has(e.position)).toBe(false);
                expect(kept.at(-1)!.position).toBeLessThanOrEqual(feedThrough);
                relayDone = kept.at(-1)!.position;
              } else {
                // As the relay does: read the range from the log instead.
                relayDone = Math.min(feedThrough, relayDone + c.max);
              }
              recent.dropThrough(relayDone);
            }
            expect(recent.size).toBeLessThanOrEqual(capacity);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('createRecentEvents.clear', () => {
  it('forgets every event, so a new history at the same positions is kept', () => {
    const recent = createRecentEvents(10);
    recent.add(events(1, 2, 3, 4, 5));
    recent.clear();
    expect(recent.size).toBe(0);
    expect(recent.take(3, 5, 10)).toBeNull();
    // The promoted standby's log ends at 2; its own events reuse 3 and 4.
    const again = [event(3), event(4)].map((e) => ({ ...e, json: `new ${e.position}` }));
    recent.add(again);
    expect(recent.take(3, 4, 10)?.map((e) => e.json)).toEqual(['new 3', 'new 4']);
  });
});
