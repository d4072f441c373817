// The relay: numbers the change log's new events and publishes them, on the leader's lock
// connection:
//   1. (after taking over or after a failure) read the numbered batches not yet confirmed — they
//      are republished first, under the same positions, one at a time;
//   2. otherwise number everything committed since the last numbering in one statement, as
//      batches of up to `batchSize` events (migration 0007: one row per batch, positions from the
//      counter, the snapshot recorded with them), then read each batch's envelopes and hand them
//      to the publisher;
//   3. while their confirms are outstanding, go back to 2 — at most MAX_IN_FLIGHT batches wait at
//      a time (confirm-window.ts);
//   4. as confirms come back, raise the confirmed watermark (bridge_state.confirmed_through) over
//      every batch confirmed in position order.
// A crash between any two of these loses nothing: what is numbered but unconfirmed is found by 1.

import type pg from 'pg';
import { type RawEvent, readRawRange } from '../db/event-log.js';
import { delay } from '../lib/wait.js';
import { createConfirmWindow } from './confirm-window.js';
import type { Publisher } from './publisher.js';
import { raiseWatermark } from './watermark.js';

/**
 * Numbers every event committed since the last numbering, as batches of at most $1 events
 * stamped $2; returns the batches. One statement: the counter, the recorded snapshot and the
 * batches move together, so positions have no gap and never change. New events are those of
 * transactions the recorded snapshot did not see (`order_events_unnumbered()`, migration 0007);
 * the statement's own snapshot decides which of them have committed, and it is recorded in their
 * place. The snapshot comparison in the UPDATE makes a second numbering that
 * raced this one (it cannot, under the leader lock) number nothing instead of numbering twice.
 */
export const NUMBER_SQL = `
  WITH state AS (
    SELECT last_position, numbered_snapshot FROM bridge_state WHERE id = 1
  ), fresh AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM order_events_unnumbered()
  ), counter AS (
    UPDATE bridge_state s
    SET last_position = s.last_position + (SELECT count(*) FROM fresh),
        numbered_snapshot = pg_current_snapshot()
    FROM state
    WHERE s.id = 1 AND s.numbered_snapshot::text = state.numbered_snapshot::text
      AND EXISTS (SELECT 1 FROM fresh)
    RETURNING state.last_position AS base
  )
  INSERT INTO order_event_batches (first_position, last_position, ids, published_at)
  SELECT counter.base + min(f.n), counter.base + max(f.n), array_agg(f.id ORDER BY f.n), $2
  FROM fresh AS f, counter
  GROUP BY counter.base, (f.n - 1) / $1
  RETURNING first_position, last_position`;

/** The first numbered batch above the confirmed watermark. */
const UNCONFIRMED_SQL = `
  SELECT first_position, last_position FROM order_event_batches
  WHERE last_position > (SELECT confirmed_through FROM bridge_state WHERE id = 1)
  ORDER BY first_position LIMIT 1`;

// Batches are confirmed in position order: one watermark says which events are published
// (watermark.ts). The numbering and reading statements are prepared once per connection (named
// queries): parsing and planning them again each time was about a fifth of a one-event step's
// database time.

interface BatchRow {
  first_position: string;
  last_position: string;
}

/** A drain returns after this many batches, so its caller can renew its lease in between. */
const MAX_BATCHES_PER_DRAIN = 20;
/**
 * Batches handed to the publisher and not yet confirmed: the next one is numbered while the
 * confirms of these are outstanding, so numbering and the broker's round trip overlap.
 */
export const MAX_IN_FLIGHT = 4;

export interface RelayOptions {
  publisher: Publisher;
  batchSize: number;
  lingerMs: number;
  onPublished?(events: readonly RawEvent[], seconds: number): void;
  /** A batch's numbering committed (at `numberedAt`, ms since the epoch); for the stage metrics. */
  onNumbered?(events: readonly RawEvent[], numberedAt: number): void;
  /** A batch's message was written to the broker, `seconds` after its numbering committed. */
  onHanded?(seconds: number): void;
  /**
   * After each drain: whether it stopped with work left (a backlog: it handed over its
   * MAX_BATCHES_PER_DRAIN batches) rather than having found the log empty.
   */
  onDrained?(backlogged: boolean): void;
}

export interface Relay {
  /**
   * Publishes until the log holds nothing new or MAX_BATCHES_PER_DRAIN batches went out, on
   * `client` (the leader's lock connection); returns how many events it published. Throws on
   * the first failure; the caller backs off and calls again.
   */
  drain(client: pg.Client, signal: AbortSignal): Promise<number>;
  /** Makes the next drain republish what was numbered but not confirmed (after a takeover). */
  recover(): void;
}

export function createRelay({
  publisher,
  batchSize,
  lingerMs,
  onPublished,
  onDrained,
  onNumbered,
  onHanded,
}: RelayOptions): Relay {
  let recovering = true;
  /** Batches numbered by the last numbering and not yet handed over, in position order. */
  let pending: { first: number; last: number }[] = [];
  /** When the numbering of `pending` committed (performance.now()). */
  let numberedAt = 0;

  const toBatch = (row: BatchRow) => ({ first: Number(row.first_position), last: Number(row.last_position) });

  /**
   * The next batch to hand over, with its last position (the watermark moves to it even when the
   * log no longer holds some of its events), or null when there is none.
   */
  async function nextBatch(
    client: pg.Client,
    signal: AbortSignal,
  ): Promise<{ events: RawEvent[]; last: number; numberedAt: number | null } | null> {
    if (recovering) {
      const { rows } = await client.query<BatchRow>({
        name: 'orders-live-unconfirmed',
        text: UNCONFIRMED_SQL,
      });
      if (rows[0]) {
        const { first, last } = toBatch(rows[0]);
        // Numbered by an earlier leader or drain: not timed as a numbering.
        return { events: await readRawRange(client, first, last), last, numberedAt: null };
      }
      recovering = false;
      pending = [];
    }
    if (pending.length === 0) {
      // A linger lets a batch fill under moderate load; 0 (the default) never waits, since events
      // already pile up on their own while the previous batch is in flight.
      if (lingerMs > 0) await delay(lingerMs, signal);
      const { rows } = await client.query<BatchRow>({
        name: 'orders-live-number',
        text: NUMBER_SQL,
        values: [batchSize, new Date().toISOString()],
      });
      pending = rows.map(toBatch).sort((a, b) => a.first - b.first);
      numberedAt = performance.now();
    }
    const batch = pending.shift();
    if (!batch) return null;
    return { events: await readRawRange(client, batch.first, batch.last), last: batch.last, numberedAt };
  }

  /**
   * Numbers and publishes until the log holds nothing new (or MAX_BATCHES_PER_DRAIN went out),
   * keeping up to MAX_IN_FLIGHT batches waiting for confirms; returns once every one of them is
   * confirmed and under the watermark.
   */
  async function pipeline(client: pg.Client, signal: AbortSignal): Promise<number> {
    const window = createConfirmWindow(MAX_IN_FLIGHT, 0);
    const batches = new Map<number, { events: RawEvent[]; started: number }>();
    const confirmed: number[] = [];
    let failure: { error: unknown } | undefined;
    let wake: (() => void) | undefined;
    let numbered = 0;
    let exhausted = false;
    let total = 0;

    while (true) {
      while (!window.full && !exhausted && !failure && !signal.aborted && numbered < MAX_BATCHES_PER_DRAIN) {
        // Republishing reads above the watermark: one batch at a time, each confirmed and under
        // the watermark before the next is read.
        if (recovering && window.inFlight > 0) break;
        const started = performance.now();
        const batch = await nextBatch(client, signal);
        // A batch read while an earlier one failed is not handed over: it would go out ahead
        // of that one's republishing. It stays numbered and unconfirmed, and recovery sends it.
        if (failure) break;
        if (!batch || signal.aborted) {
          exhausted = true;
          break;
        }
        const { events, last } = batch;
        numbered += 1;
        const { numberedAt } = batch;
        if (numberedAt !== null) onNumbered?.(events, performance.timeOrigin + numberedAt);
        // A batch whose events the log lost (an operator's DELETE) publishes what is left, or
        // nothing, and still moves the watermark past it: it is never republished forever.
        const id = window.add(last);
        batches.set(id, { events, started });
        publisher
          .publish(
            events,
            numberedAt === null ? undefined : () => onHanded?.((performance.now() - numberedAt) / 1000),
          )
          .then(
            () => {
              confirmed.push(id);
              wake?.();
            },
            (error: unknown) => {
              failure ??= { error };
              wake?.();
            },
          );
      }
      if (failure) throw failure.error;
      if (window.inFlight === 0) {
        onDrained?.(!exhausted);
        return total;
      }
      if (confirmed.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      let watermark: number | null = null;
      for (const id of confirmed.splice(0)) {
        const batch = batches.get(id)!;
        batches.delete(id);
        watermark = window.confirm(id) ?? watermark;
        onPublished?.(batch.events, (performance.now() - batch.started) / 1000);
        total += batch.events.length;
      }
      if (watermark !== null) await raiseWatermark(client, 'confirmed_through', watermark);
    }
  }

  return {
    async drain(client, signal) {
      try {
        return await pipeline(client, signal);
      } catch (e) {
        recovering = true;
        throw e;
      }
    },
    recover() {
      recovering = true;
    },
  };
}
