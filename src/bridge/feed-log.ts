// The relay's side of the change log, on the leader's lock connection: number what committed and
// read the envelopes of the new batches in one round trip, and read batches numbered earlier
// (after a takeover or a failure, or what one numbering made beyond what it read). Fails by
// throwing; the relay backs off and starts over from the confirmed watermark.

import type pg from 'pg';
import { type RawEvent, type RawRow, toRaw } from '../db/event-log.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** Numbered events of batches, as the log wrote them: what goes out as one feed message each. */
export interface FeedBatch {
  first: number;
  last: number;
  /** The events the log still holds, positions ascending (an operator may have deleted some). */
  events: RawEvent[];
}

export interface FeedLog {
  /**
   * Numbers every event committed since the last numbering, as batches of at most `batchSize`
   * stamped `publishedAt` and the epoch bridge_state names (set by `enterEpoch()`), and returns
   * the envelopes of the first `read` of them; `through` is the last position numbered (0 when
   * nothing was). One statement, committed (durably) before it returns: positions are never
   * published before they are durable.
   */
  number(
    batchSize: number,
    publishedAt: Date,
    read: number,
  ): Promise<{ batches: FeedBatch[]; through: number }>;
  /** The numbered batches ending above `after`, at most `limit`, in position order. */
  numbered(after: number, limit: number): Promise<FeedBatch[]>;
  /** The confirmed watermark as the database has it. */
  confirmedThrough(): Promise<number>;
}

/**
 * The epoch to number under, recorded in bridge_state for the numbering (invariant 9): a new one
 * when the server's timeline changed since the latest (a promoted standby), forked after the last
 * position numbered on this server. The leader calls it before it numbers anything.
 */
export async function enterEpoch(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ epoch: number }>('SELECT order_events_epoch() AS epoch');
  return rows[0]!.epoch;
}

/**
 * The numbering: what transactions the recorded snapshot did not see have committed, counted and
 * recorded with the new snapshot (migration 0007). The snapshot comparison makes a second
 * numbering that raced this one (it cannot, under the leader lock) number nothing instead of
 * numbering twice.
 */
const NUMBERING = `
  WITH state AS (
    SELECT last_position, numbered_snapshot, epoch FROM bridge_state WHERE id = 1
  ), fresh AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM order_events_unnumbered()
  ), counter AS (
    UPDATE bridge_state s
    SET last_position = s.last_position + (SELECT count(*) FROM fresh),
        numbered_snapshot = pg_current_snapshot()
    FROM state
    WHERE s.id = 1 AND s.numbered_snapshot::text = state.numbered_snapshot::text
      AND EXISTS (SELECT 1 FROM fresh)
    RETURNING state.last_position AS base, state.epoch
  )`;

const INSERT_BATCHES = `
  INSERT INTO order_event_batches (first_position, last_position, ids, published_at, epoch)
  SELECT counter.base + min(f.n), counter.base + max(f.n), array_agg(f.id ORDER BY f.n), $2, counter.epoch
  FROM fresh AS f, counter
  GROUP BY counter.base, counter.epoch, (f.n - 1) / $1`;

/**
 * Numbers every event committed since the last numbering, as batches of at most $1 events
 * stamped $2 and bridge_state's epoch; returns the batches (first_position, last_position).
 */
export const NUMBER_SQL = `${NUMBERING}
  ${INSERT_BATCHES}
  RETURNING first_position, last_position`;

/** The envelope columns of the events of batches `b` (toRaw's row); the caller orders them. */
function envelopesOf(batches: string, join: 'JOIN' | 'LEFT JOIN'): string {
  return `
  SELECT b.first_position, b.last_position, b.first_position + u.n - 1 AS position,
    e.op, e."order" ->> 'status' AS status,
    extract(epoch FROM b.published_at)::float8 AS published,
    extract(epoch FROM e.occurred_at)::float8 AS occurred,
    CASE WHEN e.id IS NOT NULL THEN order_event_envelope(e, b.first_position + u.n - 1, b.published_at, b.epoch) END AS json
  FROM ${batches} AS b
  CROSS JOIN LATERAL unnest(b.ids) WITH ORDINALITY AS u(id, n)
  ${join} order_events e ON e.id = u.id`;
}

/**
 * NUMBER_SQL, and the envelopes of its first $3 batches in the same statement: the new batches
 * come from the INSERT's RETURNING (the statement's snapshot does not see them in the table),
 * their events from the snapshot that numbered them.
 */
export const NUMBER_AND_READ_SQL = `${NUMBERING}, batches AS (
  ${INSERT_BATCHES}
  RETURNING first_position, last_position, ids, published_at, epoch
  ), first_batches AS (
    SELECT * FROM batches ORDER BY first_position LIMIT $3
  )
  SELECT x.*, (SELECT max(last_position) FROM batches) AS through
  FROM (${envelopesOf('first_batches', 'JOIN')}) AS x
  ORDER BY x.position`;

/** Batches ending above $1, at most $2; a row per id, json null where the log lost the event. */
const NUMBERED_SQL = `${envelopesOf(
  '(SELECT * FROM order_event_batches WHERE last_position > $1 ORDER BY first_position LIMIT $2)',
  'LEFT JOIN',
)}
  ORDER BY position`;

interface BatchRow extends Omit<RawRow, 'json'> {
  first_position: string;
  last_position: string;
  json: string | null;
  through?: string;
}

export function createFeedLog(db: Queryable): FeedLog {
  return {
    async number(batchSize, publishedAt, read) {
      // Prepared once per connection (named): parsing and planning it again each time was about a
      // fifth of a one-event step's database time.
      const { rows } = await db.query<BatchRow>({
        name: 'orders-live-number-and-read',
        text: NUMBER_AND_READ_SQL,
        values: [batchSize, publishedAt.toISOString(), Math.max(1, read)],
      });
      return { batches: toBatches(rows), through: Number(rows[0]?.through ?? 0) };
    },
    async numbered(after, limit) {
      const { rows } = await db.query<BatchRow>({
        name: 'orders-live-read-numbered',
        text: NUMBERED_SQL,
        values: [after, Math.max(1, limit)],
      });
      return toBatches(rows);
    },
    async confirmedThrough() {
      const { rows } = await db.query<{ c: string }>(
        'SELECT confirmed_through AS c FROM bridge_state WHERE id = 1',
      );
      return Number(rows[0]?.c ?? 0);
    },
  };
}

/** Rows in position order → batches, each with the events the log still had. */
function toBatches(rows: readonly BatchRow[]): FeedBatch[] {
  const batches: FeedBatch[] = [];
  for (const row of rows) {
    const first = Number(row.first_position);
    let batch = batches.at(-1);
    if (batch?.first !== first) {
      batch = { first, last: Number(row.last_position), events: [] };
      batches.push(batch);
    }
    if (row.json !== null) batch.events.push(toRaw(row as RawRow));
  }
  return batches;
}
