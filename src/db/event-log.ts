// The change log's read side: events by position, as wire envelopes. Used by the bridge (what to
// publish), the gateway (gap fill, replay) and the API (GET /events). Timestamps are formatted
// by PostgreSQL to keep their microseconds.

import type pg from 'pg';
import type { OrderEvent } from '../contract/events.js';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/**
 * The select list producing an envelope's fields from `order_events e` and its position row `p`
 * (`order_event_positions(lo, hi) AS p`, migration 0007).
 */
export const ENVELOPE_COLUMNS = `
  p.position, e.op, e.order_id, e.version, e."order", e.changes, e.source, e.actor,
  e.txid::text AS txid,
  to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
  to_char(p.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS published_at`;

/** Envelopes of positions lo..hi (SQL expressions), ascending: select list, FROM and ORDER BY. */
export function envelopesBetween(lo: string, hi: string): string {
  return `SELECT ${ENVELOPE_COLUMNS}
    FROM order_event_positions(${lo}, ${hi}) AS p JOIN order_events e ON e.id = p.id
    ORDER BY p.position`;
}

interface EnvelopeRow {
  position: string;
  op: OrderEvent['op'];
  order_id: string | null;
  version: number | null;
  order: OrderEvent['order'];
  changes: OrderEvent['changes'];
  source: OrderEvent['source'];
  actor: string;
  txid: string;
  occurred_at: string;
  published_at: string | null;
}

export function toEnvelope(row: EnvelopeRow): OrderEvent {
  return {
    position: Number(row.position),
    op: row.op,
    order_id: row.order_id === null ? null : Number(row.order_id),
    version: row.version,
    order: row.order && {
      ...row.order,
      created_at: rfc3339(row.order.created_at),
      updated_at: rfc3339(row.order.updated_at),
    },
    changes: row.changes?.created_at
      ? { ...row.changes, created_at: row.changes.created_at.map(rfc3339) as [unknown, unknown] }
      : row.changes,
    source: row.source,
    actor: row.actor,
    txid: row.txid,
    occurred_at: row.occurred_at,
    published_at: row.published_at,
  };
}

/**
 * A timestamp the capture wrote into jsonb (`2026-11-24T10:00:00.12+00:00`: UTC, PostgreSQL's
 * JSON form) as the REST API writes them: RFC 3339 with `Z` and six fractional digits. Anything
 * else is returned as it is.
 */
export function rfc3339<T>(value: T): T {
  if (typeof value !== 'string') return value;
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00(?::00)?$/.exec(value);
  return (match ? `${match[1]}.${(match[2] ?? '').padEnd(6, '0')}Z` : value) as T;
}

/** Published (confirmed) events with position > `after`, ascending, at most `limit`. */
export async function readPublished(db: Queryable, after: number, limit: number): Promise<OrderEvent[]> {
  // Positions have no gaps above the oldest one retained: the page starts there at the earliest.
  const { rows } = await db.query<EnvelopeRow>(
    `WITH r AS (
       SELECT greatest($1::bigint + 1, coalesce((SELECT min(first_position) FROM order_event_batches), 1)) AS lo,
              (SELECT confirmed_through FROM bridge_state WHERE id = 1) AS confirmed
     )
     ${envelopesBetween('(SELECT lo FROM r)', '(SELECT least(lo + $2::bigint - 1, confirmed) FROM r)')}`,
    [after, limit],
  );
  return rows.map(toEnvelope);
}

/** Positioned events in [from, to], published or not (the gateway's gap fill), ascending. */
export async function readRange(db: Queryable, from: number, to: number): Promise<OrderEvent[]> {
  const { rows } = await db.query<EnvelopeRow>({
    name: 'orders-live-read-range',
    text: envelopesBetween('$1::bigint', '$2::bigint'),
    values: [from, to],
  });
  return rows.map(toEnvelope);
}

/** The lowest position still in the log, or null when it holds no positioned event. */
export async function oldestPosition(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ position: string | null }>(
    'SELECT min(first_position) AS position FROM order_event_batches',
  );
  return rows[0]?.position == null ? null : Number(rows[0].position);
}

/**
 * The last position handed out, as seen by the caller's snapshot. Read in the same REPEATABLE
 * READ transaction as a snapshot of `orders`, every event at or below it is reflected in that
 * snapshot (invariant 8: snapshot meets stream).
 */
export async function lastPosition(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ last_position: string }>(
    'SELECT last_position FROM bridge_state WHERE id = 1',
  );
  return Number(rows[0]?.last_position ?? 0);
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
