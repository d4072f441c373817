// Writes against a clock: event i is due at start + i/rate, whatever the previous writes took.
// Several connections share the schedule; each takes every event that is due (up to a cap) into
// one UPDATE, so at low rates every statement changes one row, and when a connection falls behind
// the backlog goes out in multi-row statements instead of drifting the schedule. The commit time of
// every row is reported right after its statement returned (autocommit: after COMMIT).

import type pg from 'pg';
import { sleep } from './wait-for.js';

/** Flips the status, so every row really changes (a no-op UPDATE captures nothing). */
export const UPDATE_SQL = `
  UPDATE orders SET status = CASE WHEN status = 'pending' THEN 'processing' ELSE 'pending' END
  WHERE id = ANY($1::bigint[]) RETURNING id, version`;

/** One number per event, the same on the writer and on the client: order id and version. */
export function eventKey(orderId: number, version: number): number {
  return orderId * 1_000_000 + version;
}

export interface PacedWriteOptions {
  /** Writer connections; each has at most one statement in flight. */
  clients: readonly pg.Client[];
  /** Events (changed rows) per second. */
  rate: number;
  durationMs: number;
  /** Ids written cycle through 1..rows. */
  rows: number;
  /** Most rows in one statement. */
  maxRowsPerStatement: number;
  /** Statements start only on multiples of this after the start (0: as soon as a row is due). */
  tickMs?: number;
  /** Called after each statement with its rows' keys and performance.now() after it returned. */
  onCommit(keys: number[], committedAt: number): void;
  /** Stops the schedule early (the statements in flight finish). */
  signal?: AbortSignal;
}

export interface WriteStats {
  events: number;
  statements: number;
  elapsedMs: number;
  /** Events per second actually committed. */
  achievedRate: number;
  /** Largest delay of a statement's start behind its first row's due time. */
  maxScheduleLagMs: number;
  meanRowsPerStatement: number;
}

export async function runPacedWrites(options: PacedWriteOptions): Promise<WriteStats> {
  const { rate, durationMs, rows, maxRowsPerStatement, tickMs = 0, signal } = options;
  const total = Math.round((rate * durationMs) / 1000);
  const start = performance.now();
  const dueAt = (i: number) => start + (i * 1000) / rate;
  let issued = 0;
  let nextId = 0;
  let events = 0;
  let statements = 0;
  let maxLag = 0;

  async function worker(client: pg.Client): Promise<void> {
    while (issued < total && !signal?.aborted) {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      if (due <= issued) {
        const wake =
          tickMs > 0 ? start + Math.ceil((dueAt(issued) - start) / tickMs) * tickMs : dueAt(issued);
        await sleep(wake - now);
        continue;
      }
      const n = Math.min(due - issued, maxRowsPerStatement);
      maxLag = Math.max(maxLag, now - dueAt(issued));
      issued += n;
      const ids = Array.from({ length: n }, () => (nextId++ % rows) + 1);
      const result = await client.query<{ id: string; version: number }>({
        name: 'bench-update',
        text: UPDATE_SQL,
        values: [ids],
      });
      const committedAt = performance.now();
      events += result.rows.length;
      statements++;
      options.onCommit(
        result.rows.map((r) => eventKey(Number(r.id), r.version)),
        committedAt,
      );
    }
  }

  await Promise.all(options.clients.map(worker));
  const elapsedMs = performance.now() - start;
  return {
    events,
    statements,
    elapsedMs,
    achievedRate: events / (elapsedMs / 1000),
    maxScheduleLagMs: maxLag,
    meanRowsPerStatement: statements > 0 ? events / statements : 0,
  };
}
