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
 * Raises each watermark given to its position (never lowers one), in one UPDATE. One round trip:
 * a multi-statement query is one implicit transaction, so SET LOCAL applies to this UPDATE only,
 * and a failure leaves no transaction open on the connection.
 */
export async function raiseWatermarks(
  db: Pick<pg.ClientBase, 'query'>,
  marks: Partial<Record<Watermark, number>>,
): Promise<void> {
  const sets = Object.entries(marks).map(([column, position]) => {
    if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`bad watermark ${position}`);
    return `${column} = greatest(${column}, ${position})`;
  });
  if (sets.length === 0) return;
  await db.query(
    `SET LOCAL synchronous_commit = off;
     UPDATE bridge_state SET ${sets.join(', ')} WHERE id = 1`,
  );
}

/** Raises one watermark to `position` (never lowers it). */
export function raiseWatermark(
  db: Pick<pg.ClientBase, 'query'>,
  column: Watermark,
  position: number,
): Promise<void> {
  return raiseWatermarks(db, { [column]: position });
}

/** One watermark's side of a WatermarkWriter. */
export interface WatermarkRaiser {
  /** Asks for the watermark to reach `position`; written within the writer's interval. */
  raise(position: number): void;
  /** Writes what was asked now (or rejects with the write's error). */
  flush(): Promise<void>;
}

export interface WatermarkWriter {
  /** The side of one watermark, for the relay that moves it. */
  of(column: Watermark): WatermarkRaiser;
  /** Writes what was asked of every watermark now. */
  flush(): Promise<void>;
  /**
   * Forgets what was asked and written, for a new leadership: after a failover the database's
   * watermarks may stand below what this writer wrote to the old primary, and a raise below that
   * must still be written. A write in flight when this is called moves nothing after it.
   */
  reset(): void;
}

/**
 * Watermarks are written at most this often: a relay that confirms a batch every millisecond or
 * two would otherwise spend a round trip on each. They lag by this at most, which only delays
 * GET /events and retention and, after a crash, republishes that much.
 */
export const WATERMARK_EVERY_MS = 20;

/**
 * Raises the watermarks off the relays' path: they hand confirmed positions over and go on, while
 * at most one UPDATE is in flight (on `db`, a pool: never the numbering connection's queue), at
 * most one per `everyMs`, carrying both watermarks. Raises that arrive meanwhile are folded into
 * the next write. A failed write is reported and retried with the next raise or flush: a
 * watermark that lags only means a republish under the same positions after a takeover.
 */
export function createWatermarkWriter(
  db: Pick<pg.Pool, 'query'>,
  onError: (error: unknown) => void,
  everyMs = WATERMARK_EVERY_MS,
): WatermarkWriter {
  let wanted: Record<Watermark, number> = { confirmed_through: 0, events_confirmed_through: 0 };
  let written: Record<Watermark, number> = { confirmed_through: 0, events_confirmed_through: 0 };
  /** Bumped by reset(): a write started before records nothing in the new generation. */
  let generation = 0;
  let writing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastStarted = Number.NEGATIVE_INFINITY;

  const behind = (): Partial<Record<Watermark, number>> =>
    Object.fromEntries(
      (Object.keys(wanted) as Watermark[]).filter((c) => written[c] < wanted[c]).map((c) => [c, wanted[c]]),
    );

  async function write(): Promise<void> {
    const marks = behind();
    const startedIn = generation;
    try {
      lastStarted = performance.now();
      await raiseWatermarks(db, marks);
      // A write of the old generation moves nothing: its positions may be another history's.
      if (startedIn === generation)
        for (const [column, position] of Object.entries(marks) as [Watermark, number][])
          written[column] = Math.max(written[column], position);
    } finally {
      writing = undefined;
    }
    if (Object.keys(behind()).length > 0) schedule(); // raised meanwhile: the next write, on time
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
  async function flush(columns: readonly Watermark[]): Promise<void> {
    const target = Object.fromEntries(columns.map((c) => [c, wanted[c]])) as Record<Watermark, number>;
    while (columns.some((c) => written[c] < target[c])) await start();
  }

  return {
    of(column) {
      return {
        raise(position) {
          if (position <= wanted[column]) return;
          wanted[column] = position;
          schedule();
        },
        flush: () => flush([column]),
      };
    },
    flush: () => flush(['confirmed_through', 'events_confirmed_through']),
    reset() {
      generation += 1;
      clearTimeout(timer);
      timer = undefined;
      wanted = { confirmed_through: 0, events_confirmed_through: 0 };
      written = { confirmed_through: 0, events_confirmed_through: 0 };
    },
  };
}
