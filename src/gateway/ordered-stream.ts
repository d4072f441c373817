// The ordered stream: the sequencer's I/O edge. It feeds broker deliveries to the sequencer, runs
// the log reads the sequencer asks for (one at a time, retried with backoff when PostgreSQL is
// away) and hands the result on: events in position order, and the holes the log could not fill.
// It also keeps the stream within one history of the log (invariant 9): an event of an epoch it
// does not know makes it read the epochs and fork back to the last position both histories share,
// an event of an older epoch above that position is dropped, and a log that ends before what was
// sent forks it back there. It never throws; after stop() nothing is emitted.

import type { OrderEvent } from '../contract/events.js';
import type { EpochRow } from '../db/event-log.js';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';
import type { Epochs } from './epochs.js';
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
  /** The log's epochs and where to read them; absent, epochs are not looked at. */
  epochs?: { known: Epochs; read(): Promise<EpochRow[]> };
  /**
   * The stream went back to `position`: what was emitted after it is another history's. The next
   * events emitted continue from `position`.
   */
  fork?(position: number, reason: string): void;
  /** Events of an older epoch, above what it shares with the current one, were dropped. */
  onStale?(count: number): void;
}

/** Where the stream stood when a read of the log's head began (see `catchUp`). */
export interface StreamMark {
  head: number;
  forks: number;
}

export interface OrderedStream {
  /** The last position emitted. */
  readonly head: number;
  /** One event from the broker (any order, repeats allowed), of about `bytes` bytes. */
  offer(event: OrderEvent, bytes?: number): void;
  /** Bytes of the events held above a gap (sequencer.ts caps them). */
  readonly heldBytes: number;
  /**
   * Positions up to `upTo` exist; read them from the log unless the broker brings them. With
   * `asked` (the mark taken before reading `upTo` from the log), a log that ends before the
   * head of then has lost what was sent after it: the stream forks back to `upTo`.
   */
  catchUp(upTo: number, asked?: StreamMark): void;
  /** The head and the number of forks so far, to take before reading the log's head. */
  mark(): StreamMark;
  /** Reads the epochs again (a client named one not known yet); forks when a newer one came. */
  learnEpochs(): Promise<void>;
  stop(): void;
}

type Verdict = 'ok' | 'stale' | 'newer';

/**
 * Deliveries kept while the epochs are read, at most (about 10 MB): past it they are let go, and
 * read from the log at the next catch-up, as the sequencer's shed events are.
 */
const MAX_PARKED = 10_000;

export function createOrderedStream(options: OrderedStreamOptions): OrderedStream {
  const { source, log, retryDelayMs = backoffDelayMs, epochs } = options;
  const newSequencer = (start: number) => createSequencer(start, { maxHeldBytes: options.maxHeldBytes });
  let sequencer = newSequencer(options.start);
  const stopped = new AbortController();
  let failures = 0;
  /** Forks so far: a read started before the last one answers for a sequencer that is gone. */
  let forks = 0;
  /** Reading the epochs: deliveries wait in `parked` until they are known. */
  let learning: Promise<void> | undefined;
  let parked: { event: OrderEvent; bytes: number | undefined }[] = [];
  /** The highest position known to exist: a fork reads up to it again. */
  let highest = options.start;
  /** The log's head as read while the epochs were being read: caught up to after the fork. */
  let headWhileLearning = 0;
  /** A read brought an unknown epoch and was left unanswered: the sequencer must start over. */
  let readLeft = false;
  /** Reads in a row that brought an epoch the table did not have yet: the next waits longer. */
  let unknownRounds = 0;

  function verdict(event: OrderEvent): Verdict {
    const epoch = event.epoch;
    if (!epochs || epoch === undefined || epoch === epochs.known.current) return 'ok';
    if (epoch > epochs.known.current || !epochs.known.knows(epoch)) return 'newer';
    return event.position <= epochs.known.sharedWith(epoch) ? 'ok' : 'stale';
  }

  /** Starts the stream again after `position`: what is held or being read is forgotten. */
  function restart(position: number, reason: string): void {
    forks += 1;
    failures = 0;
    sequencer = newSequencer(position);
    // What was known to exist above the fork was the other history's.
    highest = position;
    log.warn({ position, reason }, 'the stream forks back');
    options.fork?.(position, reason);
  }

  /** Reads the epochs (retried until it succeeds), forks back to what the histories share. */
  function learn(): Promise<void> {
    learning ??= (async () => {
      const before = epochs!.known.current;
      for (let attempt = 0; !stopped.signal.aborted; attempt++) {
        try {
          epochs!.known.update(await epochs!.read());
          break;
        } catch (e) {
          log.warn({ err: toError(e), attempt }, 'cannot read the log epochs; retrying');
          await delay(retryDelayMs(attempt), stopped.signal);
        }
      }
      const current = epochs!.known.current;
      // A read saw an epoch the table does not show yet: not again at once.
      if (readLeft && current === before) await delay(retryDelayMs(unknownRounds++), stopped.signal);
      else unknownRounds = 0;
      learning = undefined;
      if (stopped.signal.aborted) return;
      if (current !== before || readLeft) {
        readLeft = false;
        restart(
          Math.min(sequencer.head, epochs!.known.sharedWith(before)),
          `the change log is at epoch ${current} (was ${before})`,
        );
      }
      const waiting = parked;
      parked = [];
      for (const { event, bytes } of waiting) {
        // Still not known after reading the table: the log has it, and reads bring it from there.
        if (verdict(event) !== 'newer') offer(event, bytes);
      }
      const upTo = Math.max(highest, headWhileLearning);
      headWhileLearning = 0;
      apply(sequencer.catchUp(upTo));
    })();
    return learning;
  }

  function offer(event: OrderEvent, bytes: number | undefined): void {
    if (stopped.signal.aborted) return;
    highest = Math.max(highest, event.position);
    const judged = verdict(event);
    if (learning || judged === 'newer') {
      if (parked.length < MAX_PARKED) parked.push({ event, bytes });
      void learn();
    } else if (judged === 'stale') {
      options.onStale?.(1);
    } else {
      apply(sequencer.offer(event, bytes));
    }
  }

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
    const forksBefore = forks;
    let events: OrderEvent[];
    try {
      events = await source.range(from, to);
    } catch (e) {
      if (stopped.signal.aborted || forks !== forksBefore) return;
      log.warn({ err: toError(e), from, to, attempt: failures }, 'gap fill failed; retrying');
      apply(sequencer.readFailed());
      await delay(retryDelayMs(failures++), stopped.signal);
      if (forks === forksBefore) apply(sequencer.retry());
      return;
    }
    if (forks !== forksBefore) return;
    failures = 0;
    // The log moved to an epoch not known yet: learn it, then read again from the fork.
    if (events.some((event) => verdict(event) === 'newer')) {
      readLeft = true;
      return void learn();
    }
    apply(sequencer.readDone(events));
  }

  return {
    get head() {
      return sequencer.head;
    },
    offer,
    get heldBytes() {
      return sequencer.heldBytes;
    },
    catchUp(upTo, asked) {
      if (stopped.signal.aborted) return;
      if (learning) {
        headWhileLearning = Math.max(headWhileLearning, upTo);
        return;
      }
      if (asked && asked.forks === forks && upTo < asked.head) {
        restart(upTo, `the change log ends at position ${upTo}, before ${asked.head} sent`);
        // The bridge may have opened the new history's epoch already: then the broker's events
        // of the old one above the fork are dropped from now on.
        if (epochs) void learn();
        return;
      }
      highest = Math.max(highest, upTo);
      apply(sequencer.catchUp(upTo));
    },
    mark: () => ({ head: sequencer.head, forks }),
    learnEpochs: () => (epochs ? learn() : Promise.resolve()),
    stop() {
      stopped.abort();
    },
  };
}
