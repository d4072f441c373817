// The relay: numbers the change log's new events and publishes them, on the leader's lock
// connection:
//   1. (after taking over or after a failure) read numbered events not yet confirmed — they are
//      republished first, under the same positions;
//   2. otherwise number up to `batchSize` new events in capture order and stamp their
//      published_at (one statement: the counter row and the events move together, so positions
//      have no gap and never change), and hand them to the publisher at once;
//   3. while their confirms are outstanding, go back to 2 — at most MAX_IN_FLIGHT batches wait at
//      a time (confirm-window.ts);
//   4. as confirms come back, raise the confirmed watermark (bridge_state.confirmed_through) over
//      every batch confirmed in position order.
// A crash between any two of these loses nothing: what is numbered but unconfirmed is found by 1.

import type pg from 'pg';
import type { OrderEvent } from '../contract/events.js';
import { ENVELOPE_COLUMNS, toEnvelope } from '../db/event-log.js';
import { delay } from '../lib/wait.js';
import { createConfirmWindow } from './confirm-window.js';
import type { Publisher } from './publisher.js';

// Numbering and counter in one statement. The batch CTE is materialised once (it is referenced
// three times); FOR UPDATE keeps a second, stale leader from numbering the same rows, and the
// unique index on position is the last guard.
const NUMBER_BATCH_SQL = `
  WITH batch AS (
    SELECT b.id, row_number() OVER (ORDER BY b.id) AS n
    FROM (SELECT id FROM order_events WHERE position IS NULL ORDER BY id LIMIT $1 FOR UPDATE) AS b
  ), counter AS (
    UPDATE bridge_state SET last_position = last_position + (SELECT count(*) FROM batch)
    WHERE id = 1 AND EXISTS (SELECT 1 FROM batch)
    RETURNING last_position - (SELECT count(*) FROM batch) AS base
  )
  UPDATE order_events e SET position = counter.base + batch.n, published_at = $2
  FROM batch, counter
  WHERE e.id = batch.id
  RETURNING ${ENVELOPE_COLUMNS}`;

const UNCONFIRMED_SQL = `
  SELECT ${ENVELOPE_COLUMNS} FROM order_events e
  WHERE e.position > (SELECT confirmed_through FROM bridge_state WHERE id = 1)
  ORDER BY e.position LIMIT $1`;

// Batches are confirmed in position order: one watermark says which events are published.
// The two statements of every step are prepared once per connection (named queries): parsing and
// planning them again each time was about a fifth of a one-event step's database time.
const MARK_CONFIRMED_SQL =
  'UPDATE bridge_state SET confirmed_through = greatest(confirmed_through, $1) WHERE id = 1';

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
  onPublished?(events: readonly OrderEvent[], seconds: number): void;
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

export function createRelay({ publisher, batchSize, lingerMs, onPublished }: RelayOptions): Relay {
  let recovering = true;

  async function nextBatch(client: pg.Client, signal: AbortSignal): Promise<OrderEvent[]> {
    if (recovering) {
      const { rows } = await client.query(UNCONFIRMED_SQL, [batchSize]);
      if (rows.length > 0) return rows.map(toEnvelope);
      recovering = false;
    }
    // A linger lets a batch fill under moderate load; 0 (the default) never waits, since events
    // already pile up on their own while the previous batch is in flight.
    if (lingerMs > 0) await delay(lingerMs, signal);
    const { rows } = await client.query({
      name: 'orders-live-number-batch',
      text: NUMBER_BATCH_SQL,
      values: [batchSize, new Date().toISOString()],
    });
    return rows.map(toEnvelope).sort((a, b) => a.position - b.position);
  }

  /**
   * Numbers and publishes until the log holds nothing new (or MAX_BATCHES_PER_DRAIN went out),
   * keeping up to MAX_IN_FLIGHT batches waiting for confirms; returns once every one of them is
   * confirmed and under the watermark.
   */
  async function pipeline(client: pg.Client, signal: AbortSignal): Promise<number> {
    const window = createConfirmWindow(MAX_IN_FLIGHT, 0);
    const batches = new Map<number, { events: OrderEvent[]; started: number }>();
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
        const events = await nextBatch(client, signal);
        // A batch numbered while an earlier one failed is not handed over: it would go out ahead
        // of that one's republishing. It stays numbered and unconfirmed, and recovery sends it.
        if (failure) break;
        if (events.length === 0 || signal.aborted) {
          exhausted = true;
          break;
        }
        numbered += 1;
        const id = window.add(events.at(-1)!.position);
        batches.set(id, { events, started });
        publisher.publish(events).then(
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
      if (window.inFlight === 0) return total;
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
      if (watermark !== null)
        await client.query({
          name: 'orders-live-mark-confirmed',
          text: MARK_CONFIRMED_SQL,
          values: [watermark],
        });
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
