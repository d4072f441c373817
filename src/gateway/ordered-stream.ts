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
import { createSequencer, type PositionRange, type Sequencer, type SequencerStep } from './sequencer.js';

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
  /**
   * Events let go from memory — held over the byte cap, parked over MAX_PARKED, or parked and of
   * an epoch still unknown after the epochs were read; reads bring them back from the log.
   */
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
 * Deliveries kept while the epochs are read, at most (about 10 MB): past it they are let go (and
 * counted as shed), and read from the log at the next catch-up, as the sequencer's shed events are.
 */
export const MAX_PARKED = 10_000;

export function createOrderedStream(options: OrderedStreamOptions): OrderedStream {
  return new SequencedStream(options);
}

class SequencedStream implements OrderedStream {
  readonly #options: OrderedStreamOptions;
  readonly #log: Logger;
  readonly #retryDelayMs: (attempt: number) => number;
  readonly #epochs: OrderedStreamOptions['epochs'];
  #sequencer: Sequencer;
  readonly #stopped = new AbortController();
  #failures = 0;
  /** Forks so far: a read started before the last one answers for a sequencer that is gone. */
  #forks = 0;
  /** Reading the epochs: deliveries wait in `parked` until they are known. */
  #learning: Promise<void> | undefined;
  #parked: { event: OrderEvent; bytes: number | undefined }[] = [];
  /** The highest position known to exist: a fork reads up to it again. */
  #highest: number;
  /** The log's head as read while the epochs were being read: caught up to after the fork. */
  #headWhileLearning = 0;
  /** A read brought an unknown epoch and was left unanswered: the sequencer must start over. */
  #readLeft = false;
  /** Reads in a row that brought an epoch the table did not have yet: the next waits longer. */
  #unknownRounds = 0;

  constructor(options: OrderedStreamOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#retryDelayMs = options.retryDelayMs ?? backoffDelayMs;
    this.#epochs = options.epochs;
    this.#sequencer = this.#newSequencer(options.start);
    this.#highest = options.start;
  }

  get head(): number {
    return this.#sequencer.head;
  }
  get heldBytes(): number {
    return this.#sequencer.heldBytes;
  }

  offer(event: OrderEvent, bytes?: number): void {
    if (this.#stopped.signal.aborted) return;
    const judged = this.#verdict(event);
    // A stale event is the other history's: its position says nothing of what the log has (a
    // parked one is offered again after a fork, which would undo the fork's reset of `highest`).
    if (judged !== 'stale') this.#highest = Math.max(this.#highest, event.position);
    if (this.#learning || judged === 'newer') {
      if (this.#parked.length < MAX_PARKED) this.#parked.push({ event, bytes });
      else this.#options.onShed?.(1);
      void this.#learn();
    } else if (judged === 'stale') {
      this.#options.onStale?.(1);
    } else {
      this.#apply(this.#sequencer.offer(event, bytes));
    }
  }

  catchUp(upTo: number, asked?: StreamMark): void {
    if (this.#stopped.signal.aborted) return;
    if (this.#learning) {
      this.#headWhileLearning = Math.max(this.#headWhileLearning, upTo);
      return;
    }
    if (asked && asked.forks === this.#forks && upTo < asked.head) {
      this.#restart(upTo, `the change log ends at position ${upTo}, before ${asked.head} sent`);
      // The bridge may have opened the new history's epoch already: then the broker's events
      // of the old one above the fork are dropped from now on.
      if (this.#epochs) void this.#learn();
      return;
    }
    this.#highest = Math.max(this.#highest, upTo);
    this.#apply(this.#sequencer.catchUp(upTo));
  }

  mark(): StreamMark {
    return { head: this.#sequencer.head, forks: this.#forks };
  }

  learnEpochs(): Promise<void> {
    return this.#epochs ? this.#learn() : Promise.resolve();
  }

  stop(): void {
    this.#stopped.abort();
  }

  #newSequencer(start: number): Sequencer {
    return createSequencer(start, { maxHeldBytes: this.#options.maxHeldBytes });
  }

  #verdict(event: OrderEvent): Verdict {
    const epoch = event.epoch;
    const epochs = this.#epochs;
    if (!epochs || epoch === undefined || epoch === epochs.known.current) return 'ok';
    // `current` is the highest epoch known: one above it is not known either.
    if (!epochs.known.knows(epoch)) return 'newer';
    return event.position <= epochs.known.sharedWith(epoch) ? 'ok' : 'stale';
  }

  /** Starts the stream again after `position`: what is held or being read is forgotten. */
  #restart(position: number, reason: string): void {
    this.#forks += 1;
    this.#failures = 0;
    this.#sequencer = this.#newSequencer(position);
    // What was known to exist above the fork was the other history's.
    this.#highest = position;
    this.#log.warn({ position, reason }, 'the stream forks back');
    this.#options.fork?.(position, reason);
  }

  /** Reads the epochs (retried until it succeeds), forks back to what the histories share. */
  #learn(): Promise<void> {
    this.#learning ??= this.#relearn(this.#epochs!);
    return this.#learning;
  }

  async #relearn(epochs: NonNullable<OrderedStreamOptions['epochs']>): Promise<void> {
    const signal = this.#stopped.signal;
    const before = epochs.known.current;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        epochs.known.update(await epochs.read());
        break;
      } catch (e) {
        this.#log.warn({ err: toError(e), attempt }, 'cannot read the log epochs; retrying');
        await delay(this.#retryDelayMs(attempt), signal);
      }
    }
    const current = epochs.known.current;
    // A read saw an epoch the table does not show yet: not again at once.
    if (this.#readLeft && current === before) await delay(this.#retryDelayMs(this.#unknownRounds++), signal);
    else this.#unknownRounds = 0;
    this.#learning = undefined;
    if (signal.aborted) return;
    if (current !== before || this.#readLeft) {
      this.#readLeft = false;
      this.#restart(
        Math.min(this.#sequencer.head, epochs.known.sharedWith(before)),
        `the change log is at epoch ${current} (was ${before})`,
      );
    }
    this.#offerParked();
    const upTo = Math.max(this.#highest, this.#headWhileLearning);
    this.#headWhileLearning = 0;
    this.#apply(this.#sequencer.catchUp(upTo));
  }

  #offerParked(): void {
    const waiting = this.#parked;
    this.#parked = [];
    let unknown = 0;
    for (const { event, bytes } of waiting) {
      // Still not known after reading the table: the log has it, and reads bring it from there.
      if (this.#verdict(event) !== 'newer') this.offer(event, bytes);
      else unknown++;
    }
    if (unknown > 0) this.#options.onShed?.(unknown);
  }

  #apply(step: SequencerStep): void {
    if (this.#stopped.signal.aborted) return;
    const options = this.#options;
    if (step.duplicates > 0) options.onDuplicates?.(step.duplicates);
    if (step.filled > 0) options.onGapFilled?.(step.filled);
    if (step.shed > 0) options.onShed?.(step.shed);
    if (step.skipped) this.#emitAround(step.emit, step.skipped);
    else if (step.emit.length > 0) options.emit(step.emit);
    if (step.read) void this.#read(step.read);
  }

  /** Emits what comes before a hole, the hole, then what comes after it. */
  #emitAround(emit: OrderEvent[], skipped: PositionRange): void {
    const { from, to } = skipped;
    this.#log.error({ from, to }, 'positions missing from the change log; clients are told to resync');
    const before = emit.filter((e) => e.position < from);
    if (before.length > 0) this.#options.emit(before);
    this.#options.skip(skipped);
    const after = emit.filter((e) => e.position > to);
    if (after.length > 0) this.#options.emit(after);
  }

  async #read({ from, to }: PositionRange): Promise<void> {
    const forksBefore = this.#forks;
    let events: OrderEvent[];
    try {
      events = await this.#options.source.range(from, to);
    } catch (e) {
      return this.#retryRead(e, { from, to }, forksBefore);
    }
    if (this.#forks !== forksBefore) return;
    this.#failures = 0;
    // The log moved to an epoch not known yet: learn it, then read again from the fork.
    if (events.some((event) => this.#verdict(event) === 'newer')) {
      this.#readLeft = true;
      return void this.#learn();
    }
    this.#apply(this.#sequencer.readDone(events));
  }

  /** A failed read: the sequencer backs off, and after the delay retries unless the stream forked. */
  async #retryRead(e: unknown, { from, to }: PositionRange, forksBefore: number): Promise<void> {
    if (this.#stopped.signal.aborted || this.#forks !== forksBefore) return;
    this.#log.warn({ err: toError(e), from, to, attempt: this.#failures }, 'gap fill failed; retrying');
    this.#apply(this.#sequencer.readFailed());
    await delay(this.#retryDelayMs(this.#failures++), this.#stopped.signal);
    if (this.#forks === forksBefore) this.#apply(this.#sequencer.retry());
  }
}
