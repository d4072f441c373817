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

export interface WatermarkWriter {
  /** Asks for the watermark to reach `position`; written within WATERMARK_EVERY_MS, the latest wins. */
  raise(position: number): void;
  /** Writes what was asked now (or rejects with the write's error). */
  flush(): Promise<void>;
}

/**
 * A watermark is written at most this often: a relay that confirms a batch every millisecond or
 * two would otherwise spend a round trip on each (at 1,000 events/s the writes were a third of the
 * process's socket writes, bench profile in BENCHMARKS.md). It lags by this at most, which only
 * delays GET /events and retention and, after a crash, republishes that much.
 */
export const WATERMARK_EVERY_MS = 20;

/**
 * Raises a watermark off the caller's path: a relay hands confirmed positions over and goes on
 * numbering, while at most one UPDATE is in flight (on `db`, a pool: never the numbering
 * connection's queue), at most one per `everyMs`. Raises that arrive meanwhile are folded into the
 * next write. A failed write is reported and retried with the next raise or flush: a watermark
 * that lags only means a republish under the same positions after a takeover.
 */
export function createWatermarkWriter(
  db: Pick<pg.Pool, 'query'>,
  column: Watermark,
  onError: (error: unknown) => void,
  everyMs = WATERMARK_EVERY_MS,
): WatermarkWriter {
  let wanted = 0;
  let written = 0;
  let writing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastStarted = Number.NEGATIVE_INFINITY;

  async function write(): Promise<void> {
    try {
      const target = wanted;
      lastStarted = performance.now();
      await raiseWatermark(db, column, target);
      written = Math.max(written, target);
    } finally {
      writing = undefined;
    }
    if (written < wanted) schedule(); // raised meanwhile: the next write, on time
  }
  function start(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    writing ??= write();
    return writing;
  }
  /** Starts a write now, or once `everyMs` have passed since the last one started. */
  function schedule(): void {
    if (writing || timer) return;
    const wait = lastStarted + everyMs - performance.now();
    if (wait <= 0) start().catch(onError);
    else {
      timer = setTimeout(() => start().catch(onError), wait);
      timer.unref();
    }
  }

  return {
    raise(position) {
      if (position <= wanted) return;
      wanted = position;
      schedule();
    },
    async flush() {
      const target = wanted;
      while (written < target) await start();
    },
  };
}
