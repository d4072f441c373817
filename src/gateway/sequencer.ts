// The sequencer, as a pure state machine: turns what the broker delivers (at least once, in any
// order, with holes after a reconnect) into a stream that goes up by exactly one. It never does
// I/O: each input returns a step — events to send, the change-log read to start, positions the log
// no longer has — and the driver (ordered-stream.ts) performs it and reports the read's outcome.
// It throws only when its driver reports a read it never asked for.
//
// The rules that keep it exact:
// - `head` (the last position sent) only moves forward; anything at or below it is a duplicate.
// - One read at a time. A read's result is reconciled with what arrived while it was pending:
//   events already sent are dropped, and only positions the read covered and the log did not
//   return, still above `head`, count as missing.
// - A position is declared missing only after a read covering it came back without it: positions
//   are committed before they are published, so a hole the log cannot fill is gone (retention, or a
//   log that was reset). The step names the hole so clients can be told to resync.

import type { OrderEvent } from '../contract/events.js';

/** Most positions read from the log in one step; bigger gaps take several reads. */
export const FILL_PAGE = 1_000;
/**
 * Bytes of events held above a gap, at most: while gap-fill reads fail and back off (10 s at most
 * between tries) the broker goes on delivering. Past it the highest positions are let go; they are
 * in the log, and reads bring them when the head gets there. 32 MiB: ~30 s at 1,000 events/s.
 */
export const MAX_HELD_BYTES = 32 * 1024 * 1024;
/** The size counted for an event whose size is not known (one read from the log). */
export const EVENT_BYTES_ESTIMATE = 1_024;

/** Positions `from` through `to`, inclusive. */
export interface PositionRange {
  from: number;
  to: number;
}

export interface SequencerStep {
  /** Events to send now, positions ascending by exactly one, continuing from the previous step. */
  emit: OrderEvent[];
  /** A log read to start now (at most one is ever in flight). */
  read: PositionRange | null;
  /** Positions the log did not have; `emit` continues after them. */
  skipped: PositionRange | null;
  /** Events dropped because they were already sent or already held. */
  duplicates: number;
  /** Events a read supplied that the broker had not. */
  filled: number;
  /** Held events let go over the byte cap (the log has them; reads bring them later). */
  shed: number;
}

export interface Sequencer {
  /** The last position sent. Never decreases. */
  readonly head: number;
  /** The highest position known to exist. */
  readonly target: number;
  /** The read in flight, if any. */
  readonly reading: PositionRange | null;
  /** Whether reads are held back after a failure until `retry()`. */
  readonly backingOff: boolean;
  /** Bytes of the events held above a gap. */
  readonly heldBytes: number;
  /** One event from the broker (any order, repeats allowed), of about `bytes` bytes. */
  offer(event: OrderEvent, bytes?: number): SequencerStep;
  /** Positions up to `upTo` exist (e.g. the log's confirmed head after a broker reconnect). */
  catchUp(upTo: number): SequencerStep;
  /** The read in flight returned these events (any order, any subset of its range). */
  readDone(events: readonly OrderEvent[]): SequencerStep;
  /** The read in flight failed: no read starts until `retry()`. */
  readFailed(): SequencerStep;
  /** The backoff after a failed read is over: start the next read if one is needed. */
  retry(): SequencerStep;
}

export function createSequencer(
  start: number,
  { maxHeldBytes = MAX_HELD_BYTES }: { maxHeldBytes?: number } = {},
): Sequencer {
  return new SequencerMachine(start, maxHeldBytes);
}

class SequencerMachine implements Sequencer {
  #head: number;
  #target: number;
  #reading: PositionRange | null = null;
  #backingOff = false;
  readonly #held = new Map<number, { event: OrderEvent; bytes: number }>();
  #heldBytes = 0;
  readonly #maxHeldBytes: number;

  constructor(start: number, maxHeldBytes: number) {
    this.#head = start;
    this.#target = start;
    this.#maxHeldBytes = maxHeldBytes;
  }

  get head(): number {
    return this.#head;
  }
  get target(): number {
    return this.#target;
  }
  get reading(): PositionRange | null {
    return this.#reading;
  }
  get backingOff(): boolean {
    return this.#backingOff;
  }
  get heldBytes(): number {
    return this.#heldBytes;
  }

  offer(event: OrderEvent, bytes = EVENT_BYTES_ESTIMATE): SequencerStep {
    return this.#hold(event, bytes) ? this.#step() : this.#step({ duplicates: 1 });
  }

  catchUp(upTo: number): SequencerStep {
    if (upTo > this.#target) this.#target = upTo;
    return this.#step();
  }

  readDone(events: readonly OrderEvent[]): SequencerStep {
    const range = this.#reading;
    if (!range) throw new Error('readDone without a read in flight');
    this.#reading = null;
    let filled = 0;
    let duplicates = 0;
    for (const event of events) {
      if (event.position < range.from || event.position > range.to) continue;
      if (this.#hold(event, EVENT_BYTES_ESTIMATE)) filled++;
      else duplicates++;
    }
    const emit: OrderEvent[] = [];
    this.#release(emit);
    return this.#step({ emit, skipped: this.#skipUnread(range), filled, duplicates });
  }

  readFailed(): SequencerStep {
    if (!this.#reading) throw new Error('readFailed without a read in flight');
    this.#reading = null;
    this.#backingOff = true;
    return this.#step();
  }

  retry(): SequencerStep {
    this.#backingOff = false;
    return this.#step();
  }

  /** Still missing inside what a read covered: those positions are not in the log. */
  #skipUnread(range: PositionRange): PositionRange | null {
    if (this.#head >= range.to) return null;
    const resumeAfter = Math.min(range.to, this.#firstHeldAbove(this.#head) - 1);
    const skipped = { from: this.#head + 1, to: resumeAfter };
    this.#head = resumeAfter;
    return skipped;
  }

  #step(partial: Partial<SequencerStep> = {}): SequencerStep {
    const emit = partial.emit ?? [];
    this.#release(emit);
    return {
      emit,
      read: this.#nextRead(),
      skipped: partial.skipped ?? null,
      duplicates: partial.duplicates ?? 0,
      filled: partial.filled ?? 0,
      shed: this.#shed(),
    };
  }

  #release(out: OrderEvent[]): void {
    for (let next = this.#held.get(this.#head + 1); next; next = this.#held.get(this.#head + 1)) {
      this.#forget(next.event.position);
      out.push(next.event);
      this.#head = next.event.position;
    }
  }

  #forget(position: number): void {
    this.#heldBytes -= this.#held.get(position)?.bytes ?? 0;
    this.#held.delete(position);
  }

  /**
   * Over the cap, lets the highest held positions go down to 90 % of it (so the sort that finds
   * them runs once per tenth of the cap, not once per event); returns how many.
   */
  #shed(): number {
    if (this.#heldBytes <= this.#maxHeldBytes) return 0;
    const highest = [...this.#held.keys()].sort((a, b) => b - a);
    let count = 0;
    for (const position of highest) {
      if (this.#heldBytes <= this.#maxHeldBytes * 0.9) break;
      this.#forget(position);
      count++;
    }
    return count;
  }

  #nextRead(): PositionRange | null {
    if (this.#reading || this.#backingOff || this.#target <= this.#head) return null;
    // Up to the first held event (or the target): never re-read what is already held.
    const to = Math.min(this.#head + FILL_PAGE, this.#firstHeldAbove(this.#head) - 1, this.#target);
    this.#reading = { from: this.#head + 1, to };
    return this.#reading;
  }

  #firstHeldAbove(position: number): number {
    let min = Number.POSITIVE_INFINITY;
    for (const p of this.#held.keys()) if (p > position && p < min) min = p;
    return min;
  }

  #hold(event: OrderEvent, bytes: number): boolean {
    if (event.position <= this.#head || this.#held.has(event.position)) return false;
    this.#held.set(event.position, { event, bytes });
    this.#heldBytes += bytes;
    if (event.position > this.#target) this.#target = event.position;
    return true;
  }
}
