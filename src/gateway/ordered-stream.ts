// The ordered stream: the sequencer's I/O edge. It feeds broker deliveries to the sequencer, runs
// the log reads the sequencer asks for (one at a time, retried with backoff when PostgreSQL is
// away) and hands the result on: events in position order, and the holes the log could not fill.
// It never throws; after stop() nothing is emitted.

import type { OrderEvent } from '../contract/events.js';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';
import { createSequencer, type PositionRange, type SequencerStep } from './sequencer.js';

export interface EventSource {
  /** Positioned events in [from, to], ascending. */
  range(from: number, to: number): Promise<OrderEvent[]>;
}

export interface OrderedStreamOptions {
  /** The position already reflected downstream: the next one sent is start + 1. */
  start: number;
  source: EventSource;
  log: Logger;
  /** Events in position order, each exactly one past the one before (or past a `skip`). */
  emit(events: OrderEvent[]): void;
  /** Positions the log no longer has: the stream continues after `range.to`. */
  skip(range: PositionRange): void;
  onDuplicates?(count: number): void;
  onGapFilled?(count: number): void;
  /** The wait before retrying a failed read. @default backoffDelayMs (lib/backoff.ts) */
  retryDelayMs?(attempt: number): number;
  /** @default MAX_HELD_BYTES (sequencer.ts) */
  maxHeldBytes?: number;
  /** Held events let go over the byte cap; reads bring them back from the log. */
  onShed?(count: number): void;
}

export interface OrderedStream {
  /** The last position emitted. */
  readonly head: number;
  /** One event from the broker (any order, repeats allowed), of about `bytes` bytes. */
  offer(event: OrderEvent, bytes?: number): void;
  /** Bytes of the events held above a gap (sequencer.ts caps them). */
  readonly heldBytes: number;
  /** Positions up to `upTo` exist; read them from the log unless the broker brings them. */
  catchUp(upTo: number): void;
  stop(): void;
}

export function createOrderedStream(options: OrderedStreamOptions): OrderedStream {
  const { source, log, retryDelayMs = backoffDelayMs } = options;
  const sequencer = createSequencer(options.start, { maxHeldBytes: options.maxHeldBytes });
  const stopped = new AbortController();
  let failures = 0;

  function apply(step: SequencerStep): void {
    if (stopped.signal.aborted) return;
    if (step.duplicates > 0) options.onDuplicates?.(step.duplicates);
    if (step.filled > 0) options.onGapFilled?.(step.filled);
    if (step.shed > 0) options.onShed?.(step.shed);
    if (step.skipped) {
      const { from, to } = step.skipped;
      log.error({ from, to }, 'positions missing from the change log; clients are told to resync');
      const before = step.emit.filter((e) => e.position < from);
      if (before.length > 0) options.emit(before);
      options.skip(step.skipped);
      const after = step.emit.filter((e) => e.position > to);
      if (after.length > 0) options.emit(after);
    } else if (step.emit.length > 0) {
      options.emit(step.emit);
    }
    if (step.read) void read(step.read);
  }

  async function read({ from, to }: PositionRange): Promise<void> {
    let events: OrderEvent[];
    try {
      events = await source.range(from, to);
    } catch (e) {
      if (stopped.signal.aborted) return;
      log.warn({ err: toError(e), from, to, attempt: failures }, 'gap fill failed; retrying');
      apply(sequencer.readFailed());
      await delay(retryDelayMs(failures++), stopped.signal);
      apply(sequencer.retry());
      return;
    }
    failures = 0;
    apply(sequencer.readDone(events));
  }

  return {
    get head() {
      return sequencer.head;
    },
    offer(event, bytes) {
      apply(sequencer.offer(event, bytes));
    },
    get heldBytes() {
      return sequencer.heldBytes;
    },
    catchUp(upTo) {
      apply(sequencer.catchUp(upTo));
    },
    stop() {
      stopped.abort();
    },
  };
}
