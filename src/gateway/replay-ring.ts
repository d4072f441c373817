// The replay ring: the last events broadcast, kept so a reconnecting client resumes without
// touching the database. Pure. It only ever holds a contiguous range of positions, so a slice of
// it is exactly the events after a position: an event at or below its end is refused, and one
// past a hole starts the ring afresh (resumes from before the hole then go to the log).

import type { OrderEvent } from '../contract/events.js';
import { follows } from '../lib/positions.js';

export interface ReplayRing {
  /** The last position held (or the position the ring starts after, when empty). */
  readonly end: number;
  /** The first position held (end + 1 when empty). */
  readonly first: number;
  readonly size: number;
  /**
   * Appends events in ascending order. Events at or below `end` are refused (the count is
   * returned); an event past `end + 1` drops everything held and starts the ring at it.
   */
  append(events: readonly OrderEvent[]): { refused: number; restarted: boolean };
  /** Forgets everything: the ring continues after `position`. */
  reset(position: number): void;
  /** At most `limit` events in (after, end], or null when the ring does not reach back to `after`. */
  after(after: number, limit: number): OrderEvent[] | null;
}

/** `capacity` events are kept (older ones dropped); the ring starts empty after `start`. */
export function createReplayRing(capacity: number, start: number): ReplayRing {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError('capacity must be a positive integer');
  // events[i] holds position first + i. Trimmed in steps of half the capacity, so the copy is rare.
  let events: OrderEvent[] = [];
  let first = start + 1;

  function end(): number {
    return first + events.length - 1;
  }

  return {
    get end() {
      return end();
    },
    get first() {
      return first;
    },
    get size() {
      return Math.min(events.length, capacity);
    },
    append(batch) {
      let refused = 0;
      let restarted = false;
      for (const event of batch) {
        const step = follows(end(), event.position);
        if (step === 'repeat') {
          refused++;
          continue;
        }
        if (step === 'gap') {
          events = [];
          first = event.position;
          restarted = true;
        }
        events.push(event);
      }
      if (events.length > capacity * 1.5) {
        const drop = events.length - capacity;
        events = events.slice(drop);
        first += drop;
      }
      return { refused, restarted };
    },
    reset(position) {
      events = [];
      first = position + 1;
    },
    after(after, limit) {
      // Held beyond capacity until the next trim: serve only the newest `capacity`.
      const oldest = Math.max(first, end() - capacity + 1);
      if (after < oldest - 1 || after > end()) return null;
      const from = after - first + 1;
      return events.slice(from, from + limit);
    },
  };
}
