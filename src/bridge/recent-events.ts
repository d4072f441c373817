// What the gateways' feed has just published, kept for the per-event relay: under a steady load
// that relay trails the feed by a step, and republishing the same envelopes from memory spares
// PostgreSQL building every envelope a second time (at 20,000 events/s that read was ~0.2 of a
// core of the leader's backends; BENCHMARKS.md). Pure: the bridge feeds it, the relay asks it.
//
// Events are kept only as one run of consecutive positions. An event that does not continue the
// run (the log lost events in between, or the feed started over elsewhere) starts a new run; one
// at or below the run's end (a batch republished after a failure) is already kept and ignored.
// Whatever is not kept, the relay reads from the log as before.

import type { RawEvent } from '../db/event-log.js';
import { follows } from '../lib/positions.js';

export interface RecentEvents {
  /** Adds events the feed has published, positions ascending. */
  add(events: readonly RawEvent[]): void;
  /**
   * The kept events from position `from` on, at most `max` of them and none past `through`; null
   * unless position `from` is kept.
   */
  take(from: number, through: number, max: number): RawEvent[] | null;
  /** Forgets the events at or below `position`. */
  dropThrough(position: number): void;
  /**
   * Forgets every event: a new leadership may number on another history (a promoted standby),
   * where the positions kept here belong to other events.
   */
  clear(): void;
  /** Events kept. */
  readonly size: number;
}

/** Keeps at most `capacity` events, dropping the oldest. */
export function createRecentEvents(capacity: number): RecentEvents {
  let kept: RawEvent[] = [];
  /** Index of the oldest kept event in `kept`; the ones before it are dropped. */
  let head = 0;

  const first = () => kept[head]?.position;
  const last = () => kept.at(-1)?.position;
  const size = () => kept.length - head;

  function compact(): void {
    // Slicing only once the dropped part is the larger keeps dropping amortised O(1).
    if (head > 0 && head >= size()) {
      kept = kept.slice(head);
      head = 0;
    }
  }

  function dropOldest(count: number): void {
    head += Math.min(count, size());
    compact();
  }

  return {
    add(events) {
      for (const event of events) {
        const step = follows(last(), event.position);
        if (step === 'repeat') continue;
        if (step === 'gap') {
          kept = [];
          head = 0;
        }
        kept.push(event);
      }
      if (size() > capacity) dropOldest(size() - capacity);
    },
    take(from, through, max) {
      const start = first();
      const end = last();
      if (start === undefined || end === undefined || from < start || from > end) return null;
      if (through < from || max < 1) return null;
      const stop = Math.min(end, through, from + max - 1);
      return kept.slice(head + (from - start), head + (stop - start) + 1);
    },
    clear() {
      kept = [];
      head = 0;
    },
    dropThrough(position) {
      const start = first();
      if (start === undefined || position < start) return;
      dropOldest(position - start + 1);
    },
    get size() {
      return size();
    },
  };
}
