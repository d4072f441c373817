// Retention: the leader deletes published events older than the window, oldest first, a few
// batches at a time so no statement holds many row locks or runs long. Events not yet confirmed on
// both the feed and the per-event exchange are never deleted, however old.

import type pg from 'pg';

/** Events per DELETE (whole batches, at least one): ~10 ms each on a 2-core box. */
export const RETENTION_BATCH = 1_000;

// Walks the batches from the oldest (migration 0007), so each statement reads only what it
// deletes: whole batches, up to RETENTION_BATCH events, with their events. published_at grows
// with position (batches are numbered and confirmed in order), so once a statement deletes fewer
// batches than it looked at, nothing further is due.
const DELETE_BATCH_SQL = `
  WITH head AS (
    SELECT first_position, last_position, published_at,
           sum(cardinality(ids)) OVER (ORDER BY first_position) - cardinality(ids) AS before
    FROM (SELECT * FROM order_event_batches ORDER BY first_position LIMIT $2) AS b
  ), considered AS (
    SELECT * FROM head WHERE before < $2
  ), due AS (
    SELECT first_position FROM considered
    WHERE published_at < $1
      AND last_position <= (
        SELECT least(confirmed_through, events_confirmed_through) FROM bridge_state WHERE id = 1)
  ), gone AS (
    DELETE FROM order_event_batches b USING due WHERE b.first_position = due.first_position
    RETURNING b.ids
  ), removed AS (
    DELETE FROM order_events e USING (SELECT unnest(ids) AS id FROM gone) AS g WHERE e.id = g.id
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM removed)::int AS events, (SELECT count(*) FROM due)::int AS due,
         (SELECT count(*) FROM considered)::int AS considered`;

/** Deletes every published event with published_at before `cutoff`; returns how many. */
export async function deleteExpired(
  client: Pick<pg.Client, 'query'>,
  cutoff: Date,
  signal?: AbortSignal,
): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await client.query<{ events: number; due: number; considered: number }>(
      DELETE_BATCH_SQL,
      [cutoff, RETENTION_BATCH],
    );
    const { events, due, considered } = rows[0]!;
    total += events;
    if (due === 0 || due < considered || signal?.aborted) return total;
  }
}
