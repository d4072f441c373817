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
  return new EventRing(capacity, start);
}

class EventRing implements ReplayRing {
  readonly #capacity: number;
  // events[i] holds position first + i. Trimmed in steps of half the capacity, so the copy is rare.
  #events: OrderEvent[] = [];
  #first: number;

  constructor(capacity: number, start: number) {
    this.#capacity = capacity;
    this.#first = start + 1;
  }

  get end(): number {
    return this.#first + this.#events.length - 1;
  }
  get first(): number {
    return this.#first;
  }
  get size(): number {
    return Math.min(this.#events.length, this.#capacity);
  }

  append(batch: readonly OrderEvent[]): { refused: number; restarted: boolean } {
    let refused = 0;
    let restarted = false;
    for (const event of batch) {
      const step = follows(this.end, event.position);
      if (step === 'repeat') {
        refused++;
        continue;
      }
      if (step === 'gap') {
        this.#events = [];
        this.#first = event.position;
        restarted = true;
      }
      this.#events.push(event);
    }
    this.#trim();
    return { refused, restarted };
  }

  reset(position: number): void {
    this.#events = [];
    this.#first = position + 1;
  }

  after(after: number, limit: number): OrderEvent[] | null {
    // Held beyond capacity until the next trim: serve only the newest `capacity`.
    const end = this.end;
    const oldest = Math.max(this.#first, end - this.#capacity + 1);
    if (after < oldest - 1 || after > end) return null;
    const from = after - this.#first + 1;
    return this.#events.slice(from, from + limit);
  }

  #trim(): void {
    if (this.#events.length <= this.#capacity * 1.5) return;
    const drop = this.#events.length - this.#capacity;
    this.#events = this.#events.slice(drop);
    this.#first += drop;
  }
}
