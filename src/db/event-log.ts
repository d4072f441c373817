// The change log's read side: events by position, as wire envelopes. Used by the bridge (what to
// publish), the gateway (gap fill, replay) and the API (GET /events). PostgreSQL writes each
// envelope as JSON text (`order_event_envelope()`, migration 0007): the relay hands that text to
// RabbitMQ untouched, and everything else parses the same text, so every path carries the same
// envelope, timestamps included.

import type pg from 'pg';
import type { OrderEvent } from '../contract/events.js';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** An envelope as the log wrote it, with what publishing needs besides the text. */
export interface RawEvent {
  position: number;
  op: OrderEvent['op'];
  /** The order's status (routing keys), null for truncate. */
  status: string | null;
  /** published_at, in seconds since the epoch (the AMQP timestamp). */
  publishedAt: number;
  /** occurred_at (capture, the database's clock), in seconds since the epoch. */
  occurredAt: number;
  /** The envelope, JSON. */
  json: string;
}

/** A row of an envelope query (envelopesBetween, or the bridge's numbering), before toRaw. */
export interface RawRow {
  position: string;
  op: OrderEvent['op'];
  status: string | null;
  published: number;
  occurred: number;
  json: string;
}

/** Envelopes of positions lo..hi (SQL expressions), ascending. */
function envelopesBetween(lo: string, hi: string): string {
  return `SELECT p.position, e.op, e."order" ->> 'status' AS status,
      extract(epoch FROM p.published_at)::float8 AS published,
      extract(epoch FROM e.occurred_at)::float8 AS occurred,
      order_event_envelope(e, p.position, p.published_at, p.epoch) AS json
    FROM order_event_positions(${lo}, ${hi}) AS p JOIN order_events e ON e.id = p.id
    ORDER BY p.position`;
}

export function toRaw(row: RawRow): RawEvent {
  return {
    position: Number(row.position),
    op: row.op,
    status: row.status,
    publishedAt: row.published,
    occurredAt: row.occurred,
    json: row.json,
  };
}

/** Published (confirmed) events with position > `after`, ascending, at most `limit`. */
export async function readPublished(db: Queryable, after: number, limit: number): Promise<OrderEvent[]> {
  // Positions have no gaps above the oldest one retained: the page starts there at the earliest.
  const { rows } = await db.query<RawRow>(
    `WITH r AS (
       SELECT greatest($1::bigint + 1, coalesce((SELECT min(first_position) FROM order_event_batches), 1)) AS lo,
              (SELECT confirmed_through FROM bridge_state WHERE id = 1) AS confirmed
     )
     ${envelopesBetween('(SELECT lo FROM r)', '(SELECT least(lo + $2::bigint - 1, confirmed) FROM r)')}`,
    [after, limit],
  );
  return rows.map((row) => JSON.parse(row.json) as OrderEvent);
}

/** A page of one order's published events, newest first. */
export interface OrderHistoryPage {
  events: OrderEvent[];
  /** Whether the log retains any event of this order, published or not. */
  known: boolean;
}

/**
 * Order `orderId`'s published events with position < `before`, newest first, at most `limit`.
 * Deleted orders too, while retention keeps their events. Each event's position comes from the
 * batch whose ids hold it (a GIN lookup per event of the order).
 */
export async function readOrderHistory(
  db: Queryable,
  orderId: number,
  before: number,
  limit: number,
): Promise<OrderHistoryPage> {
  const { rows } = await db.query<{ json: string }>(
    `WITH mine AS (
       SELECT e.id, b.first_position + array_position(b.ids, e.id) - 1 AS position, b.published_at, b.epoch
       FROM order_events e
       JOIN order_event_batches b ON b.ids @> ARRAY[e.id]
       WHERE e.order_id = $1
     )
     SELECT order_event_envelope(e, m.position, m.published_at, m.epoch) AS json
     FROM mine m JOIN order_events e ON e.id = m.id
     WHERE m.position < $2 AND m.position <= (SELECT confirmed_through FROM bridge_state WHERE id = 1)
     ORDER BY m.position DESC
     LIMIT $3`,
    [orderId, before, limit],
  );
  const events = rows.map((row) => JSON.parse(row.json) as OrderEvent);
  if (events.length > 0) return { events, known: true };
  // An empty page: of an order the log holds (a later page, or not yet published), or of none.
  const known = await db.query('SELECT 1 FROM order_events WHERE order_id = $1 LIMIT 1', [orderId]);
  return { events, known: (known.rowCount ?? 0) > 0 };
}

/** Positioned events in [from, to], published or not, as the log wrote them, ascending. */
export async function readRawRange(db: Queryable, from: number, to: number): Promise<RawEvent[]> {
  const { rows } = await db.query<RawRow>({
    name: 'orders-live-read-range',
    text: envelopesBetween('$1::bigint', '$2::bigint'),
    values: [from, to],
  });
  return rows.map(toRaw);
}

/** Positioned events in [from, to], published or not (the gateway's gap fill), ascending. */
export async function readRange(db: Queryable, from: number, to: number): Promise<OrderEvent[]> {
  return (await readRawRange(db, from, to)).map((raw) => JSON.parse(raw.json) as OrderEvent);
}

/**
 * The last position handed out, as seen by the caller's snapshot. Read in the same REPEATABLE
 * READ transaction as a snapshot of `orders`, every event at or below it is reflected in that
 * snapshot (invariant 8: snapshot meets stream).
 */
export async function lastPosition(db: Queryable): Promise<number> {
  return (await logHead(db)).position;
}

/** Where the log stands: its last position and the epoch that position belongs to. */
export interface LogHead {
  position: number;
  /** The log's history (invariant 9): positions mean something only within one epoch. */
  epoch: number;
}

/**
 * The last position handed out and the epoch the leader numbers under, as seen by the caller's
 * snapshot. After a failover, until the new leader opens its epoch, the epoch is the one before:
 * every position up to the last one is shared with it.
 */
export async function logHead(db: Queryable): Promise<LogHead> {
  const { rows } = await db.query<{ last_position: string; epoch: number }>(
    'SELECT last_position, epoch FROM bridge_state WHERE id = 1',
  );
  return { position: Number(rows[0]?.last_position ?? 0), epoch: rows[0]?.epoch ?? 1 };
}

/** An epoch of the log and the last position it shares with the epoch before it. */
export interface EpochRow {
  epoch: number;
  forkedAfter: number;
}

/** Every epoch of the log, oldest first (log_epochs, migration 0011). */
export async function readEpochs(db: Queryable): Promise<EpochRow[]> {
  const { rows } = await db.query<{ epoch: number; forked_after: string }>(
    'SELECT epoch, forked_after FROM log_epochs ORDER BY epoch',
  );
  return rows.map((row) => ({ epoch: row.epoch, forkedAfter: Number(row.forked_after) }));
}

/** The highest position RabbitMQ has confirmed (0 when none): where a starting gateway begins. */
export async function lastPublishedPosition(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ position: string }>(
    'SELECT confirmed_through AS position FROM bridge_state WHERE id = 1',
  );
  return Number(rows[0]?.position ?? 0);
}

/**
 * Events not yet confirmed by RabbitMQ, and the age in seconds of the oldest (0 when none).
 * Exact: it counts the unnumbered rows, so its cost grows with them. `estimate` reads only index
 * ends (migration 0006), for what asks often, such as /metrics.
 */
export async function backlog(
  db: Queryable,
  { estimate = false }: { estimate?: boolean } = {},
): Promise<{ count: number; lagSeconds: number }> {
  const fn = estimate ? 'order_events_backlog_estimate' : 'order_events_backlog';
  const { rows } = await db.query<{ count: number; lag: number | null }>(
    `SELECT events::int AS count, extract(epoch FROM now() - oldest)::float8 AS lag FROM ${fn}()`,
  );
  return { count: rows[0]?.count ?? 0, lagSeconds: Math.max(0, rows[0]?.lag ?? 0) };
}
