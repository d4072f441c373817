// The sequencer (src/gateway/sequencer.ts) as a pure state machine: invariant 5 — the gateway
// never sends a position twice and never skips one — including a fill that returns late.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createSequencer,
  FILL_PAGE,
  type Sequencer,
  type SequencerStep,
} from '../../src/gateway/sequencer.js';
import { envelope, envelopes, positions } from '../helpers/events.js';

/** Offers each event and collects every position emitted. */
function offerAll(
  sequencer: Sequencer,
  events: ReturnType<typeof envelopes>,
  sent: number[],
): SequencerStep[] {
  return events.map((e) => {
    const step = sequencer.offer(e);
    sent.push(...positions(step.emit));
    return step;
  });
}

describe('sequencer', () => {
  it('sends in-order deliveries at once and drops repeats', () => {
    const s = createSequencer(0);
    const sent: number[] = [];
    offerAll(s, [...envelopes(1, 3), envelope(2), envelope(3)], sent);
    expect(sent).toEqual([1, 2, 3]);
    expect(s.head).toBe(3);
    expect(s.reading).toBeNull();
  });

  it('holds what comes after a gap and reads only the gap', () => {
    const s = createSequencer(10);
    const step = s.offer(envelope(14));
    expect(step.emit).toEqual([]);
    expect(step.read).toEqual({ from: 11, to: 13 });
    expect(s.offer(envelope(15)).read).toBeNull(); // one read at a time
    const done = s.readDone(envelopes(11, 13));
    expect(positions(done.emit)).toEqual([11, 12, 13, 14, 15]);
    expect(done.filled).toBe(3);
    expect(done.read).toBeNull();
  });

  // The race of the issue, reproduced in isolation: start 99; offer 111 (a read of [100, 110]
  // starts); offer 100…110 while that read is pending; resolve the read. The old sequencer set its
  // head back to 110 after the read and sent 111 a second time.
  it('reconciles a fill that returns after the broker delivered the gap', () => {
    const s = createSequencer(99);
    const sent: number[] = [];
    const first = s.offer(envelope(111));
    expect(first.read).toEqual({ from: 100, to: 110 });
    offerAll(s, envelopes(100, 110), sent);
    expect(sent).toEqual(Array.from({ length: 12 }, (_, i) => 100 + i));
    const done = s.readDone(envelopes(100, 110));
    expect(done.emit).toEqual([]);
    expect(done.skipped).toBeNull();
    expect(done.duplicates).toBe(11);
    expect(s.head).toBe(111);
    offerAll(s, [envelope(111), envelope(112)], sent);
    expect(sent.filter((p) => p === 111)).toHaveLength(1);
    expect(sent.at(-1)).toBe(112);
  });

  // The root cause of the "restart everything" repeats: after connecting, the gateway reads the
  // log's confirmed head and catches up to it; the bridge is publishing, so the same positions
  // and later ones arrive from the broker while that read is pending. The head must not move
  // back to the end of the read, or every position delivered meanwhile goes out again.
  it('does not move its head back when a catch-up read races the live stream', () => {
    const s = createSequencer(1_000);
    const sent: number[] = [];
    expect(s.catchUp(1_010).read).toEqual({ from: 1_001, to: 1_010 });
    offerAll(s, envelopes(1_001, 1_020), sent);
    const done = s.readDone(envelopes(1_001, 1_010));
    expect(s.head).toBe(1_020);
    expect(done.read).toBeNull();
    offerAll(s, envelopes(1_021, 1_022), sent);
    expect(sent).toEqual(Array.from({ length: 22 }, (_, i) => 1_001 + i));
  });

  it('skips, and names, positions a read covered that the log no longer has', () => {
    const s = createSequencer(0);
    s.offer(envelope(10));
    // Positions 1–4 fell to retention; 5–9 are there.
    const done = s.readDone(envelopes(5, 9));
    expect(done.skipped).toEqual({ from: 1, to: 4 });
    expect(positions(done.emit)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(s.head).toBe(10);
  });

  it('never skips past what arrived meanwhile, nor past the read', () => {
    const s = createSequencer(0);
    s.offer(envelope(20)); // read [1, 19]
    s.offer(envelope(3)); // arrives while the read is pending
    const done = s.readDone([]); // the log had none of 1–19: 1–2 are missing, 3 is held
    expect(done.skipped).toEqual({ from: 1, to: 2 });
    expect(positions(done.emit)).toEqual([3]);
    // 4–19 were covered by the read: missing too, but only declared so by the next read.
    expect(done.read).toEqual({ from: 4, to: 19 });
  });

  it('catches up in pages of FILL_PAGE', () => {
    const s = createSequencer(0);
    expect(s.catchUp(2_500).read).toEqual({ from: 1, to: FILL_PAGE });
    expect(s.readDone(envelopes(1, FILL_PAGE)).read).toEqual({ from: FILL_PAGE + 1, to: 2 * FILL_PAGE });
  });

  it('backs off after a failed read and reads again on retry', () => {
    const s = createSequencer(0);
    s.offer(envelope(5));
    const failed = s.readFailed();
    expect(failed.read).toBeNull();
    expect(s.backingOff).toBe(true);
    expect(s.offer(envelope(7)).read).toBeNull();
    expect(s.retry().read).toEqual({ from: 1, to: 4 });
    const done = s.readDone(envelopes(1, 4));
    expect(positions(done.emit)).toEqual([1, 2, 3, 4, 5]);
    expect(done.read).toEqual({ from: 6, to: 6 });
  });

  it('ignores what a read returns outside the range it asked for', () => {
    const s = createSequencer(0);
    s.offer(envelope(3));
    const done = s.readDone([...envelopes(1, 2), envelope(9)]);
    expect(positions(done.emit)).toEqual([1, 2, 3]);
    expect(s.target).toBe(3);
  });

  it('refuses a read result when no read is in flight', () => {
    expect(() => createSequencer(0).readDone([])).toThrow(/without a read/);
  });

  it('keeps what it holds above a gap under its byte cap while reads fail, and loses nothing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }), // events the cap holds
        fc.integer({ min: 1, max: 400 }), // deliveries while reads fail
        fc.array(fc.boolean(), { maxLength: 50 }), // reads that fail once they are tried again
        (capEvents, delivered, failures) => {
          const s = createSequencer(0, { maxHeldBytes: capEvents * 100 });
          const log = envelopes(1, delivered + 1);
          const sent: number[] = [];
          let maxHeld = 0;
          const take = (step: SequencerStep) => {
            sent.push(...positions(step.emit));
            maxHeld = Math.max(maxHeld, s.heldBytes);
          };
          // Position 1 never comes from the broker: a gap whose reads fail meanwhile.
          take(s.offer(log[1]!, 100));
          take(s.readFailed());
          for (const event of log.slice(2)) take(s.offer(event, 100));
          expect(maxHeld).toBeLessThanOrEqual(capEvents * 100);
          // Reads come back (some failing first): the log brings everything let go.
          let read = s.retry().read;
          for (let i = 0; read; i++) {
            if (failures[i]) {
              take(s.readFailed());
              read = s.retry().read;
              continue;
            }
            const step = s.readDone(log.slice(read.from - 1, read.to));
            take(step);
            expect(step.skipped).toBeNull();
            read = step.read;
          }
          expect(sent).toEqual(positions(log));
          expect(s.heldBytes).toBe(0);
        },
      ),
    );
  });
});
