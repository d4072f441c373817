// Numbering by snapshot (migration 0007, relay.ts NUMBER_SQL), on real concurrent transactions:
// every committed event gets exactly one position, positions have no gap, rolled-back writes get
// none, and a transaction that commits late — with ids below events already numbered — is
// numbered at its commit, never skipped. Random interleavings come from fast-check; each step
// runs on a real connection of its own.

import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NUMBER_SQL } from '../../src/bridge/relay.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
const WRITERS = 4;
let pool: pg.Pool;
let writers: pg.PoolClient[];

beforeAll(async () => {
  pool = db.pool({ application_name: 'psql', max: WRITERS + 2 });
  writers = await Promise.all(Array.from({ length: WRITERS }, () => pool.connect()));
});
afterAll(async () => {
  for (const w of writers ?? []) w.release();
  await pool?.end();
});
beforeEach(async () => {
  await pool.query(
    'TRUNCATE orders RESTART IDENTITY; TRUNCATE order_events RESTART IDENTITY; TRUNCATE order_event_batches',
  );
  await pool.query(
    'UPDATE bridge_state SET last_position = 0, confirmed_through = 0, events_confirmed_through = 0',
  );
});

async function numberNow(batchSize = 3): Promise<void> {
  await pool.query(NUMBER_SQL, [batchSize, new Date().toISOString()]);
}

/** The numbered log: ids by position, and the batches' shape. */
async function numberedLog(): Promise<{ ids: number[]; positions: number[] }> {
  const { rows } = await pool.query<{ position: string; id: string }>(
    'SELECT position, id FROM order_event_log ORDER BY position',
  );
  return { ids: rows.map((r) => Number(r.id)), positions: rows.map((r) => Number(r.position)) };
}

async function committedEventIds(): Promise<number[]> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM order_events ORDER BY id');
  return rows.map((r) => Number(r.id));
}

type Step =
  | { kind: 'begin'; writer: number }
  | { kind: 'insert'; writer: number; rows: number }
  | { kind: 'commit'; writer: number }
  | { kind: 'rollback'; writer: number }
  | { kind: 'number'; batchSize: number };

// Weighted so that open transactions with events often meet a numbering that finds other work.
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('begin' as const), writer: fc.nat(WRITERS - 1) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      writer: fc.nat(WRITERS - 1),
      rows: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commit' as const), writer: fc.nat(WRITERS - 1) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('rollback' as const), writer: fc.nat(WRITERS - 1) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('number' as const), batchSize: fc.integer({ min: 1, max: 5 }) }),
  },
);

describe('numbering by snapshot', () => {
  it('numbers an event committed after later ids were numbered, at its commit', async () => {
    const late = writers[0]!;
    await late.query('BEGIN');
    await late.query("INSERT INTO orders (customer_name, product_name) VALUES ('late', 'x')");
    await pool.query(
      "INSERT INTO orders (customer_name, product_name) VALUES ('early', 'y'), ('early', 'z')",
    );
    await numberNow();
    expect((await numberedLog()).ids).toEqual([2, 3]);
    await late.query('COMMIT');
    await numberNow();
    expect(await numberedLog()).toEqual({ ids: [2, 3, 1], positions: [1, 2, 3] });
    await numberNow();
    expect((await numberedLog()).positions).toEqual([1, 2, 3]);
  });

  it('keeps one order’s events in version order when the second writer waited for the first', async () => {
    await pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('one', 'x')");
    await numberNow();
    const [a, b] = [writers[0]!, writers[1]!];
    await a.query('BEGIN');
    await a.query("UPDATE orders SET status = 'processing' WHERE id = 1");
    await b.query('BEGIN');
    const waiting = b.query("UPDATE orders SET status = 'shipped' WHERE id = 1");
    await numberNow();
    await a.query('COMMIT');
    await waiting;
    await numberNow();
    await b.query('COMMIT');
    await numberNow();
    const { rows } = await pool.query<{ version: number }>(
      'SELECT version FROM order_event_log WHERE order_id = 1 ORDER BY position',
    );
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3]);
  });

  it('numbers every committed event once and no rolled-back one, in any interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        await pool.query(
          'TRUNCATE orders RESTART IDENTITY; TRUNCATE order_events RESTART IDENTITY; TRUNCATE order_event_batches',
        );
        await pool.query(
          'UPDATE bridge_state SET last_position = 0, confirmed_through = 0, events_confirmed_through = 0',
        );
        const open = new Set<number>();
        for (const s of steps) {
          if (s.kind === 'number') {
            await numberNow(s.batchSize);
            continue;
          }
          const w = writers[s.writer]!;
          if (s.kind === 'begin' && !open.has(s.writer)) {
            await w.query('BEGIN');
            open.add(s.writer);
          } else if (s.kind === 'insert') {
            await w.query(
              "INSERT INTO orders (customer_name, product_name) SELECT 'c', 'p' FROM generate_series(1, $1::int)",
              [s.rows],
            );
          } else if ((s.kind === 'commit' || s.kind === 'rollback') && open.has(s.writer)) {
            await w.query(s.kind === 'commit' ? 'COMMIT' : 'ROLLBACK');
            open.delete(s.writer);
          }
        }
        for (const writer of open) await writers[writer]!.query('COMMIT');
        await numberNow();
        const log = await numberedLog();
        expect(log.positions).toEqual(log.positions.map((_, i) => i + 1));
        expect([...log.ids].sort((x, y) => x - y)).toEqual(await committedEventIds());
        const { rows } = await pool.query('SELECT count(*)::int AS n FROM order_events_unnumbered()');
        expect(rows[0].n).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});
