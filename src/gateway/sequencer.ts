// The sequencer: turns what the broker delivers (at least once, and with holes after a broker
// reconnect) into a stream that is gap-free, duplicate-free and ascending. It keeps the last
// position sent; drops anything at or below it; holds anything past a gap and fills the gap from
// the change log before sending it. It never throws: a failed read is retried with backoff.

import type { OrderEvent } from '../contract/events.js';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';

export interface EventSource {
  /** Positioned events in [from, to], ascending. */
  range(from: number, to: number): Promise<OrderEvent[]>;
}

export interface SequencerOptions {
  /** The position already reflected downstream: the next one sent is start + 1. */
  start: number;
  log: Logger;
  source: EventSource;
  emit(events: OrderEvent[]): void;
  onDuplicate?(): void;
  onGapFilled?(count: number): void;
}

export interface Sequencer {
  /** The last position sent. */
  readonly head: number;
  /** Accepts one event from the broker (in any order, repeats allowed). */
  offer(event: OrderEvent): void;
  /** Reads the log past `head` up to `upTo` (after a broker reconnect nothing may come to ask). */
  catchUp(upTo: number): void;
  stop(): void;
}

/** Largest read of one gap fill; bigger gaps take several reads. */
const FILL_PAGE = 1_000;

export function createSequencer({
  start,
  log,
  source,
  emit,
  onDuplicate,
  onGapFilled,
}: SequencerOptions): Sequencer {
  let head = start;
  const held = new Map<number, OrderEvent>();
  let target = start; // highest position known to exist
  let filling = false;
  const stopped = new AbortController();

  function release(): void {
    const out: OrderEvent[] = [];
    for (let next = held.get(head + 1); next; next = held.get(head + 1)) {
      held.delete(next.position);
      out.push(next);
      head = next.position;
    }
    if (out.length > 0) emit(out);
    if (target > head && !filling) void fill();
  }

  async function fill(): Promise<void> {
    filling = true;
    try {
      for (let attempt = 0; target > head && !stopped.signal.aborted; ) {
        // Read up to the first held event (or the target), never past what is already held.
        const to = Math.min(head + FILL_PAGE, firstHeldAbove(head) - 1, target);
        if (to <= head) {
          release();
          continue;
        }
        try {
          const events = await source.range(head + 1, to);
          attempt = 0;
          let filled = 0;
          for (const event of events) {
            if (event.position > head && !held.has(event.position)) {
              held.set(event.position, event);
              filled++;
            }
          }
          onGapFilled?.(filled);
          if (!held.has(head + 1)) skipMissing(to);
          release();
        } catch (e) {
          log.warn({ err: toError(e), from: head + 1, to, attempt }, 'gap fill failed; retrying');
          await delay(backoffDelayMs(attempt++), stopped.signal);
        }
      }
    } finally {
      filling = false;
    }
  }

  // Positions are stored before they are published, so a hole the log cannot fill means the
  // events are gone (retention, or a log that was reset): waiting would stall every client.
  function skipMissing(to: number): void {
    const next = firstHeldAbove(head);
    const resumeAt = Math.min(next === Number.POSITIVE_INFINITY ? to + 1 : next, to + 1);
    log.error({ from: head + 1, to: resumeAt - 1 }, 'positions missing from the change log; skipping them');
    head = resumeAt - 1;
  }

  function firstHeldAbove(position: number): number {
    let min = Number.POSITIVE_INFINITY;
    for (const p of held.keys()) if (p > position && p < min) min = p;
    return min;
  }

  return {
    get head() {
      return head;
    },
    offer(event) {
      if (event.position <= head || held.has(event.position)) {
        onDuplicate?.();
        return;
      }
      held.set(event.position, event);
      if (event.position > target) target = event.position;
      release();
    },
    catchUp(upTo) {
      if (upTo > target) target = upTo;
      if (target > head && !filling) void fill();
    },
    stop() {
      stopped.abort();
      held.clear();
    },
  };
}
