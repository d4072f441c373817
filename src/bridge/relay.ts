// The relay: numbers the change log's new events and publishes them. Each step, on the leader's
// lock connection:
//   1. (after taking over or after a failure) read numbered events not yet confirmed — they are
//      republished first, under the same positions;
//   2. otherwise number up to `batchSize` new events in capture order and stamp their
//      published_at (one statement: the counter row and the events move together, so positions
//      have no gap and never change);
//   3. publish them and wait for RabbitMQ's confirms;
//   4. raise the confirmed watermark (bridge_state.confirmed_through) to the batch's last one.
// A crash between any two of these loses nothing: what is numbered but unconfirmed is found by 1.

import type pg from 'pg';
import type { OrderEvent } from '../contract/events.js';
import { ENVELOPE_COLUMNS, toEnvelope } from '../db/event-log.js';
import { delay } from '../lib/wait.js';
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
const MARK_CONFIRMED_SQL =
  'UPDATE bridge_state SET confirmed_through = greatest(confirmed_through, $1) WHERE id = 1';

/** A drain returns after this many batches, so its caller can renew its lease in between. */
const MAX_BATCHES_PER_DRAIN = 20;

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
    const { rows } = await client.query(NUMBER_BATCH_SQL, [batchSize, new Date().toISOString()]);
    return rows.map(toEnvelope).sort((a, b) => a.position - b.position);
  }

  async function step(client: pg.Client, signal: AbortSignal): Promise<number> {
    const started = performance.now();
    const events = await nextBatch(client, signal);
    if (events.length === 0 || signal.aborted) return 0;
    try {
      await publisher.publish(events);
    } catch (e) {
      recovering = true;
      throw e;
    }
    await client.query(MARK_CONFIRMED_SQL, [events.at(-1)!.position]);
    onPublished?.(events, (performance.now() - started) / 1000);
    return events.length;
  }

  return {
    async drain(client, signal) {
      let total = 0;
      try {
        for (let batches = 0; batches < MAX_BATCHES_PER_DRAIN && !signal.aborted; batches++) {
          const published = await step(client, signal);
          if (published === 0) break;
          total += published;
        }
        return total;
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
