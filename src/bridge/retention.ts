// Retention: the leader deletes published events older than the window, oldest first, in small
// batches so no statement holds many row locks or runs long. Unpublished events are never
// deleted, however old.

import type pg from 'pg';

/** Rows per DELETE: ~10 ms each on a 2-core box, short enough never to delay the relay. */
export const RETENTION_BATCH = 1_000;

// Walks the position index from the oldest event, so each batch reads only what it deletes.
// published_at grows with position (batches are numbered and confirmed in order), so once a batch deletes
// less than it read, nothing further is due.
const DELETE_BATCH_SQL = `
  WITH oldest AS (
    SELECT position FROM order_events WHERE position IS NOT NULL ORDER BY position LIMIT $2
  )
  DELETE FROM order_events e USING oldest
  WHERE e.position = oldest.position AND e.published_at < $1
    AND e.position <= (SELECT confirmed_through FROM bridge_state WHERE id = 1)`;

/** Deletes every published event with published_at before `cutoff`; returns how many. */
export async function deleteExpired(
  client: Pick<pg.Client, 'query'>,
  cutoff: Date,
  signal?: AbortSignal,
): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await client.query(DELETE_BATCH_SQL, [cutoff, RETENTION_BATCH]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < RETENTION_BATCH || signal?.aborted) return total;
  }
}
