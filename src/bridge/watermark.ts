// The relays' watermarks (bridge_state.confirmed_through, .events_confirmed_through) are committed
// without waiting for the WAL flush. A watermark a PostgreSQL crash takes back only makes the next
// drain republish what RabbitMQ had already confirmed, under the same positions: repeats on the
// wire, which gateways and integrations drop by position. Positions themselves stay durable: the
// numbering commits synchronously, before anything is published. WAL is flushed in order, so a
// later durable commit (the next numbering, a retention delete) flushes the watermark with it, and
// retention never deletes below a watermark that a crash then takes back. Waiting for the flush
// cost a second fsync per relay step: an idle one-row UPDATE took 0.61 ms (p50) durable and
// 0.30 ms without (docs/design.md, "Watermarks").

import type pg from 'pg';

export type Watermark = 'confirmed_through' | 'events_confirmed_through';

/**
 * Raises the watermark to `position` (never lowers it). One round trip: a multi-statement query
 * is one implicit transaction, so SET LOCAL applies to this UPDATE only, and a failure leaves no
 * transaction open on the connection.
 */
export async function raiseWatermark(
  db: Pick<pg.ClientBase, 'query'>,
  column: Watermark,
  position: number,
): Promise<void> {
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`bad watermark ${position}`);
  await db.query(
    `SET LOCAL synchronous_commit = off;
     UPDATE bridge_state SET ${column} = greatest(${column}, ${position}) WHERE id = 1`,
  );
}
