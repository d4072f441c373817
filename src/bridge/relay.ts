// The relay: numbers the change log's new events and publishes them on the gateways' feed, without
// ever waiting for RabbitMQ on the way:
//   1. number what committed and read the new batches' envelopes in one statement (feed-log.ts),
//      hand each batch to the publisher, and go on numbering: confirms only move the watermark;
//   2. at most `capacity` batches wait for their confirms (confirm-window.ts); a full window is
//      the only thing that holds numbering back;
//   3. as confirms come back, in any order, the watermark moves over every batch confirmed in
//      position order, and is written off this path (watermark.ts);
//   4. after a failure or a takeover, what is numbered above the watermark is republished first,
//      under the same positions, then numbering goes on.
// A crash between any two of these loses nothing: what is numbered but unconfirmed is found by 4.

import type { RawEvent } from '../db/event-log.js';
import { delay } from '../lib/wait.js';
import { type ConfirmWindow, createConfirmWindow } from './confirm-window.js';
import type { FeedBatch, FeedLog } from './feed-log.js';
import type { Publisher } from './publisher.js';
import type { WatermarkRaiser } from './watermark.js';

export { NUMBER_SQL } from './feed-log.js';

/** A drain returns after this many batches, so its caller can renew its lease in between. */
const MAX_BATCHES_PER_DRAIN = 20;
/**
 * Batches handed to the publisher and not yet confirmed. Under a steady load a confirm takes a
 * millisecond or two and a batch goes out every few; the window fills only when RabbitMQ slows.
 */
export const MAX_IN_FLIGHT = 8;

export interface RelayOptions {
  publisher: Publisher;
  /** Writes the confirmed watermark (bridge_state.confirmed_through). */
  watermark: WatermarkRaiser;
  batchSize: number;
  lingerMs: number;
  /** @default MAX_IN_FLIGHT */
  capacity?: number;
  /** Batches confirmed, in position order, with the seconds from numbering (or reading) to confirm. */
  onPublished?(events: readonly RawEvent[], seconds: number): void;
  /** A batch's numbering committed (at `numberedAt`, ms since the epoch); for the stage metrics. */
  onNumbered?(events: readonly RawEvent[], numberedAt: number): void;
  /** A batch's message was written to the broker, `seconds` after its numbering committed. */
  onHanded?(seconds: number): void;
  /**
   * After each drain: whether it stopped with work left (it handed over MAX_BATCHES_PER_DRAIN
   * batches) rather than having found the log empty.
   */
  onDrained?(backlogged: boolean): void;
  /** A publish failed: the next drain throws it, then republishes from the watermark. */
  onFailure?(): void;
}

export interface Relay {
  /**
   * Numbers and hands over until the log holds nothing new or MAX_BATCHES_PER_DRAIN batches went
   * out; returns how many events it handed over (their confirms may still be outstanding). Throws
   * a failure (its own, or a publish's since the last drain); the caller backs off and calls again.
   */
  drain(log: FeedLog, signal: AbortSignal): Promise<number>;
  /** Makes the next drain start over from the database's watermark (after a takeover). */
  recover(): void;
  /** The last position confirmed with every one before it (the database's copy may lag). */
  readonly confirmedThrough: number;
  /** Waits up to `ms` for the confirms outstanding, then writes the watermark. */
  settle(ms: number): Promise<void>;
}

interface InFlight {
  batch: FeedBatch;
  /** performance.now() when it was numbered or read. */
  started: number;
}

export function createRelay(options: RelayOptions): Relay {
  return new RelayImpl(options);
}

type Settlement = { error: unknown } | undefined;

class RelayImpl implements Relay {
  private readonly publisher: Publisher;
  private readonly watermark: WatermarkRaiser;
  private readonly capacity: number;
  private recovering = true;
  private window: ConfirmWindow | undefined;
  /** Batches in the window, by id; ids go up in position order. */
  private readonly inFlight = new Map<number, InFlight>();
  /** Publishes not yet settled (confirmed or failed), this window's and older ones'. */
  private outstanding = 0;
  private failure: Settlement;
  /** The last position handed to the publisher. */
  private handed = 0;
  /** Batches above `handed` are known to be numbered: read them before numbering again. */
  private numberedAbove = false;
  private confirmed = 0;
  /** A drain waiting for room in the window, settle() or startOver() waiting for the publishes. */
  private waiting: (() => void)[] = [];

  constructor(private readonly options: RelayOptions) {
    this.publisher = options.publisher;
    this.watermark = options.watermark;
    this.capacity = options.capacity ?? MAX_IN_FLIGHT;
  }

  async drain(log: FeedLog, signal: AbortSignal): Promise<number> {
    if (this.recovering || this.failure) await this.startOver(log);
    // Removed below: the signal lives as long as the leadership, drains come and go.
    signal.addEventListener('abort', this.notify);
    try {
      return await this.handOver(log, signal);
    } catch (e) {
      // A statement that failed may have numbered batches whose answer was lost: start over
      // from the watermark, which reads them.
      this.recovering = true;
      throw e;
    } finally {
      signal.removeEventListener('abort', this.notify);
    }
  }

  recover(): void {
    this.recovering = true;
    this.window = undefined;
    this.confirmed = 0;
  }

  get confirmedThrough(): number {
    return this.confirmed;
  }

  async settle(ms: number): Promise<void> {
    const grace = new AbortController();
    let late = false;
    void delay(ms, grace.signal).then(() => {
      late = true;
      this.notify();
    });
    while (this.outstanding > 0 && !late) await this.changed();
    grace.abort();
    await this.watermark.flush();
  }

  private readonly notify = (): void => {
    const woken = this.waiting;
    this.waiting = [];
    for (const wake of woken) wake();
  };

  private changed(): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private hand(batch: FeedBatch, numberedAt: number | null): void {
    const current = this.window!;
    const id = current.add(batch.last);
    this.handed = batch.last;
    this.inFlight.set(id, { batch, started: performance.now() });
    const { onNumbered, onHanded } = this.options;
    if (numberedAt !== null) onNumbered?.(batch.events, performance.timeOrigin + numberedAt);
    const written =
      numberedAt === null ? undefined : () => onHanded?.((performance.now() - numberedAt) / 1000);
    this.outstanding += 1;
    this.publisher.publish(batch.events, written).then(
      () => this.settled(current, id, undefined),
      (error: unknown) => this.settled(current, id, { error }),
    );
  }

  private settled(from: ConfirmWindow, id: number, failed: Settlement): void {
    this.outstanding -= 1;
    // A window given up (a failure taken, a takeover) no longer moves anything.
    if (from === this.window) {
      if (!failed) {
        const mark = from.confirm(id);
        if (mark !== null) this.release(mark);
      } else if (!this.failure) {
        this.failure = failed;
        this.options.onFailure?.();
      }
    }
    this.notify();
  }

  /** The batches now under the watermark leave the window, in position order. */
  private release(mark: number): void {
    const done: InFlight[] = [];
    for (const [id, entry] of this.inFlight) {
      if (entry.batch.last > mark) break;
      this.inFlight.delete(id);
      done.push(entry);
    }
    // Moved before anyone hears of it: a listener reads confirmedThrough.
    this.confirmed = mark;
    this.watermark.raise(mark);
    for (const { batch, started } of done) {
      this.options.onPublished?.(batch.events, (performance.now() - started) / 1000);
    }
  }

  /**
   * Once every publish has settled: a failure is taken and thrown (the next drain comes back
   * here), else the window starts over at the watermark, with what is numbered above it first.
   */
  private async startOver(log: FeedLog): Promise<void> {
    while (this.outstanding > 0) await this.changed();
    const taken = this.failure;
    this.failure = undefined;
    this.window = undefined;
    this.inFlight.clear();
    this.recovering = true;
    if (taken) throw taken.error;
    await this.publisher.reopen();
    const mark = Math.max(this.confirmed, await log.confirmedThrough());
    this.window = createConfirmWindow(this.capacity, mark);
    this.confirmed = this.handed = mark;
    this.numberedAbove = true; // unknown until a read above the watermark comes back empty
    this.recovering = false;
  }

  /** The next batches to hand over: numbered earlier and not handed yet, else newly numbered. */
  private async next(log: FeedLog, room: number, signal: AbortSignal) {
    if (this.numberedAbove) {
      const batches = await log.numbered(this.handed, room);
      if (batches.length > 0) return { batches, numberedAt: null };
      this.numberedAbove = false;
    }
    // A linger lets a batch fill under moderate load; 0 (the default) never waits, since events
    // already pile up on their own while the previous numbering runs.
    if (this.options.lingerMs > 0) await delay(this.options.lingerMs, signal);
    const { batches, through } = await log.number(this.options.batchSize, new Date(), room);
    this.numberedAbove = through > (batches.at(-1)?.last ?? through);
    return { batches, numberedAt: performance.now() };
  }

  /**
   * Hands batches over until a numbering caught up, MAX_BATCHES_PER_DRAIN went out, or a failure.
   */
  private async handOver(log: FeedLog, signal: AbortSignal): Promise<number> {
    let events = 0;
    let batches = 0;
    let exhausted = false;
    while (batches < MAX_BATCHES_PER_DRAIN && !signal.aborted && !this.failure) {
      const current = this.window!;
      if (current.full) {
        await this.changed();
        continue;
      }
      const got = await this.next(log, this.capacity - current.inFlight, signal);
      // A batch read while an earlier one failed is not handed over: it would go out ahead of
      // that one's republishing. It stays numbered and unconfirmed, and the restart sends it.
      if (this.failure || signal.aborted) break;
      if (got.batches.length === 0) {
        exhausted = true;
        break;
      }
      for (const batch of got.batches) {
        this.hand(batch, got.numberedAt);
        events += batch.events.length;
      }
      batches += got.batches.length;
      // A numbering that read all it numbered caught up with what had committed: what commits
      // later rings the doorbell, or the leased loop polls for it. Numbering again at once found
      // nothing most of the time — a round trip per event at 100 events/s.
      if (got.numberedAt !== null && !this.numberedAbove) {
        exhausted = true;
        break;
      }
    }
    if (this.failure) await this.startOver(log);
    this.options.onDrained?.(!exhausted && batches >= MAX_BATCHES_PER_DRAIN);
    return events;
  }
}
