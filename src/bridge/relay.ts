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
  const { publisher, watermark, batchSize, lingerMs, capacity = MAX_IN_FLIGHT } = options;
  let recovering = true;
  let window: ConfirmWindow | undefined;
  /** Batches in the window, by id; ids go up in position order. */
  const inFlight = new Map<number, InFlight>();
  /** Publishes not yet settled (confirmed or failed), this window's and older ones'. */
  let outstanding = 0;
  let failure: { error: unknown } | undefined;
  /** The last position handed to the publisher. */
  let handed = 0;
  /** Batches above `handed` are known to be numbered: read them before numbering again. */
  let numberedAbove = false;
  let confirmed = 0;
  /** A drain waiting for room in the window, settle() or startOver() waiting for the publishes. */
  let waiting: (() => void)[] = [];

  const notify = () => {
    const woken = waiting;
    waiting = [];
    for (const wake of woken) wake();
  };
  const changed = () => new Promise<void>((resolve) => waiting.push(resolve));

  function hand(batch: FeedBatch, numberedAt: number | null): void {
    const current = window!;
    const id = current.add(batch.last);
    handed = batch.last;
    inFlight.set(id, { batch, started: performance.now() });
    if (numberedAt !== null) options.onNumbered?.(batch.events, performance.timeOrigin + numberedAt);
    const written =
      numberedAt === null ? undefined : () => options.onHanded?.((performance.now() - numberedAt) / 1000);
    outstanding += 1;
    publisher.publish(batch.events, written).then(
      () => settled(current, id, undefined),
      (error: unknown) => settled(current, id, { error }),
    );
  }

  function settled(from: ConfirmWindow, id: number, failed: { error: unknown } | undefined): void {
    outstanding -= 1;
    // A window given up (a failure taken, a takeover) no longer moves anything.
    if (from === window) {
      if (!failed) {
        const mark = from.confirm(id);
        if (mark !== null) release(mark);
      } else if (!failure) {
        failure = failed;
        options.onFailure?.();
      }
    }
    notify();
  }

  /** The batches now under the watermark leave the window, in position order. */
  function release(mark: number): void {
    const done: InFlight[] = [];
    for (const [id, entry] of inFlight) {
      if (entry.batch.last > mark) break;
      inFlight.delete(id);
      done.push(entry);
    }
    // Moved before anyone hears of it: a listener reads confirmedThrough.
    confirmed = mark;
    watermark.raise(mark);
    for (const { batch, started } of done) {
      options.onPublished?.(batch.events, (performance.now() - started) / 1000);
    }
  }

  /**
   * Once every publish has settled: a failure is taken and thrown (the next drain comes back
   * here), else the window starts over at the watermark, with what is numbered above it first.
   */
  async function startOver(log: FeedLog): Promise<void> {
    while (outstanding > 0) await changed();
    const taken = failure;
    failure = undefined;
    window = undefined;
    inFlight.clear();
    recovering = true;
    if (taken) throw taken.error;
    await publisher.reopen();
    const mark = Math.max(confirmed, await log.confirmedThrough());
    window = createConfirmWindow(capacity, mark);
    confirmed = handed = mark;
    numberedAbove = true; // unknown until a read above the watermark comes back empty
    recovering = false;
  }

  /** The next batches to hand over: numbered earlier and not handed yet, else newly numbered. */
  async function next(log: FeedLog, room: number, signal: AbortSignal) {
    if (numberedAbove) {
      const batches = await log.numbered(handed, room);
      if (batches.length > 0) return { batches, numberedAt: null };
      numberedAbove = false;
    }
    // A linger lets a batch fill under moderate load; 0 (the default) never waits, since events
    // already pile up on their own while the previous numbering runs.
    if (lingerMs > 0) await delay(lingerMs, signal);
    const { batches, through } = await log.number(batchSize, new Date(), room);
    numberedAbove = through > (batches.at(-1)?.last ?? through);
    return { batches, numberedAt: performance.now() };
  }

  /**
   * Hands batches over until a numbering caught up, MAX_BATCHES_PER_DRAIN went out, or a failure.
   */
  async function handOver(log: FeedLog, signal: AbortSignal): Promise<number> {
    let events = 0;
    let batches = 0;
    let exhausted = false;
    while (batches < MAX_BATCHES_PER_DRAIN && !signal.aborted && !failure) {
      const current = window!;
      if (current.full) {
        await changed();
        continue;
      }
      const got = await next(log, capacity - current.inFlight, signal);
      // A batch read while an earlier one failed is not handed over: it would go out ahead of
      // that one's republishing. It stays numbered and unconfirmed, and the restart sends it.
      if (failure || signal.aborted) break;
      if (got.batches.length === 0) {
        exhausted = true;
        break;
      }
      for (const batch of got.batches) {
        hand(batch, got.numberedAt);
        events += batch.events.length;
      }
      batches += got.batches.length;
      // A numbering that read all it numbered caught up with what had committed: what commits
      // later rings the doorbell, or the leased loop polls for it. Numbering again at once found
      // nothing most of the time — a round trip per event at 100 events/s.
      if (got.numberedAt !== null && !numberedAbove) {
        exhausted = true;
        break;
      }
    }
    if (failure) await startOver(log);
    options.onDrained?.(!exhausted && batches >= MAX_BATCHES_PER_DRAIN);
    return events;
  }

  return {
    async drain(log, signal) {
      if (recovering || failure) await startOver(log);
      // Removed below: the signal lives as long as the leadership, drains come and go.
      signal.addEventListener('abort', notify);
      try {
        return await handOver(log, signal);
      } catch (e) {
        // A statement that failed may have numbered batches whose answer was lost: start over
        // from the watermark, which reads them.
        recovering = true;
        throw e;
      } finally {
        signal.removeEventListener('abort', notify);
      }
    },
    recover() {
      recovering = true;
      window = undefined;
      confirmed = 0;
    },
    get confirmedThrough() {
      return confirmed;
    },
    async settle(ms) {
      const grace = new AbortController();
      let late = false;
      void delay(ms, grace.signal).then(() => {
        late = true;
        notify();
      });
      while (outstanding > 0 && !late) await changed();
      grace.abort();
      await watermark.flush();
    },
  };
}
