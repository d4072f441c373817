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
 * and a failure leaves no transaction open on the connection. With `epoch`, only while
 * bridge_state still names it: positions of another history move nothing (migration 0012).
 */
export async function raiseWatermarks(
  db: Pick<pg.ClientBase, 'query'>,
  marks: Partial<Record<Watermark, number>>,
  epoch?: number,
): Promise<void> {
  const sets = Object.entries(marks).map(([column, position]) => {
    if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`bad watermark ${position}`);
    return `${column} = greatest(${column}, ${position})`;
  });
  if (sets.length === 0) return;
  if (epoch !== undefined && !(Number.isSafeInteger(epoch) && epoch > 0))
    throw new RangeError(`bad epoch ${epoch}`);
  const ofEpoch = epoch === undefined ? '' : ` AND epoch = ${epoch}`;
  await db.query(
    `SET LOCAL synchronous_commit = off;
     UPDATE bridge_state SET ${sets.join(', ')} WHERE id = 1${ofEpoch}`,
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
   * Forgets what was asked and written, for a new leadership numbering under `epoch`: after a
   * failover the database's watermarks may stand below what this writer wrote to the old primary,
   * and a raise below that must still be written. A write in flight when this is called moves
   * nothing after it, here or, once the epoch changed, in the database.
   */
  reset(epoch: number): void;
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
  return new BatchedWatermarkWriter(db, onError, everyMs);
}

const WATERMARKS: readonly Watermark[] = ['confirmed_through', 'events_confirmed_through'];
const none = (): Record<Watermark, number> => ({ confirmed_through: 0, events_confirmed_through: 0 });

class BatchedWatermarkWriter implements WatermarkWriter {
  private wanted = none();
  private written = none();
  /** Bumped by reset(): a write started before records nothing in the new generation. */
  private generation = 0;
  /** The epoch the leadership numbers under: each write is of it (set by reset()). */
  private epoch: number | undefined;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastStarted = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: Pick<pg.Pool, 'query'>,
    private readonly onError: (error: unknown) => void,
    private readonly everyMs: number,
  ) {}

  of(column: Watermark): WatermarkRaiser {
    return {
      raise: (position) => this.raise(column, position),
      flush: () => this.flushColumns([column]),
    };
  }

  flush(): Promise<void> {
    return this.flushColumns(WATERMARKS);
  }

  reset(epoch: number): void {
    this.generation += 1;
    this.epoch = epoch;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.wanted = none();
    this.written = none();
  }

  private raise(column: Watermark, position: number): void {
    if (position <= this.wanted[column]) return;
    this.wanted[column] = position;
    this.schedule();
  }

  private behind(): Partial<Record<Watermark, number>> {
    const { wanted, written } = this;
    return Object.fromEntries(WATERMARKS.filter((c) => written[c] < wanted[c]).map((c) => [c, wanted[c]]));
  }

  private async write(): Promise<void> {
    const marks = this.behind();
    const startedIn = this.generation;
    try {
      this.lastStarted = performance.now();
      await raiseWatermarks(this.db, marks, this.epoch);
      // A write of the old generation moves nothing: its positions may be another history's.
      if (startedIn === this.generation)
        for (const [column, position] of Object.entries(marks) as [Watermark, number][])
          this.written[column] = Math.max(this.written[column], position);
    } finally {
      this.writing = undefined;
    }
    if (Object.keys(this.behind()).length > 0) this.schedule(); // raised meanwhile: the next write, on time
  }

  private start(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing ??= this.write();
    return this.writing;
  }

  /** Starts a write now, or once `everyMs` have passed since the last one started. */
  private schedule(): void {
    if (this.writing || this.timer) return;
    const wait = this.lastStarted + this.everyMs - performance.now();
    if (wait <= 0) this.start().catch(this.onError);
    else {
      this.timer = setTimeout(() => this.start().catch(this.onError), wait);
      this.timer.unref();
    }
  }

  private async flushColumns(columns: readonly Watermark[]): Promise<void> {
    const target = Object.fromEntries(columns.map((c) => [c, this.wanted[c]])) as Record<Watermark, number>;
    while (columns.some((c) => this.written[c] < target[c])) await this.start();
  }
}
