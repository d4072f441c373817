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
  return new EventRun(capacity);
}

class EventRun implements RecentEvents {
  private kept: RawEvent[] = [];
  /** Index of the oldest kept event in `kept`; the ones before it are dropped. */
  private head = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.kept.length - this.head;
  }

  add(events: readonly RawEvent[]): void {
    for (const event of events) {
      const step = follows(this.last(), event.position);
      if (step === 'repeat') continue;
      if (step === 'gap') this.clear();
      this.kept.push(event);
    }
    if (this.size > this.capacity) this.dropOldest(this.size - this.capacity);
  }

  take(from: number, through: number, max: number): RawEvent[] | null {
    const start = this.first();
    const end = this.last();
    if (start === undefined || end === undefined || from < start || from > end) return null;
    if (through < from || max < 1) return null;
    const stop = Math.min(end, through, from + max - 1);
    return this.kept.slice(this.head + (from - start), this.head + (stop - start) + 1);
  }

  clear(): void {
    this.kept = [];
    this.head = 0;
  }

  dropThrough(position: number): void {
    const start = this.first();
    if (start === undefined || position < start) return;
    this.dropOldest(position - start + 1);
  }

  private first(): number | undefined {
    return this.kept[this.head]?.position;
  }

  private last(): number | undefined {
    return this.kept.at(-1)?.position;
  }

  private dropOldest(count: number): void {
    this.head += Math.min(count, this.size);
    // Slicing only once the dropped part is the larger keeps dropping amortised O(1).
    if (this.head > 0 && this.head >= this.size) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
  }
}
