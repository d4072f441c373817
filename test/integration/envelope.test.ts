// The envelope as PostgreSQL writes it (order_event_envelope(), migrations 0007 and 0010) — the one
// text the relay publishes and every reader parses: timestamps in RFC 3339, UTC, `Z`, microseconds
// (the order's and the capture's) or milliseconds (published_at), whatever the writer's time zone.
// 0010 builds the text by concatenation; it must mean exactly what 0007's json_build_object() wrote,
// for any string a writer can store.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEventSchema } from '../../src/contract/events.js';
import { readRange } from '../../src/db/event-log.js';
import { numberEvents } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
let pool: pg.Pool;

beforeAll(() => {
  pool = db.pool({ application_name: 'psql', options: '-c timezone=Europe/Berlin' });
});
afterAll(() => pool.end());

const MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const MILLIS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('order_event_envelope()', () => {
  it('writes every timestamp in UTC with Z, padded to its precision', async () => {
    const { rows } = await pool.query(
      "INSERT INTO orders (customer_name, product_name) VALUES ('Ada', 'Engine') RETURNING id",
    );
    const id = rows[0].id;
    await pool.query("UPDATE orders SET created_at = '2026-11-24T10:00:00.12+00' WHERE id = $1", [id]);
    await pool.query("UPDATE orders SET created_at = '2026-11-24T11:00:00+01' WHERE id = $1", [id]);
    await pool.query('TRUNCATE orders');
    await numberEvents(pool);
    const events = await readRange(pool, 1, 100);
    expect(events.map((e) => e.op)).toEqual(['insert', 'update', 'update', 'truncate']);
    for (const event of events) {
      expect(orderEventSchema.parse(event)).toEqual(event);
      expect(event.occurred_at).toMatch(MICROS);
      expect(event.published_at).toMatch(MILLIS);
    }
    const [insert, first, second, truncate] = events;
    expect(insert!.order!.created_at).toMatch(MICROS);
    expect(insert!.order!.updated_at).toMatch(MICROS);
    expect(first!.order!.created_at).toBe('2026-11-24T10:00:00.120000Z');
    expect(first!.changes!.created_at![1]).toBe('2026-11-24T10:00:00.120000Z');
    expect(first!.changes!.created_at![0]).toBe(insert!.order!.created_at);
    expect(second!.order!.created_at).toBe('2026-11-24T10:00:00.000000Z');
    expect(second!.changes!.created_at).toEqual([
      '2026-11-24T10:00:00.120000Z',
      '2026-11-24T10:00:00.000000Z',
    ]);
    expect(second!.changes!.status).toBeUndefined();
    expect(truncate).toMatchObject({ order_id: null, version: null, order: null, changes: null });
  });

  it('means what json_build_object() wrote (0007), for any names and actor a writer stores', async () => {
    // 0007's function, as a reference in this session only.
    const client = await pool.connect();
    try {
      await client.query(REFERENCE_ENVELOPE);
      const text = fc.string({ unit: 'binary', maxLength: 40 }).map((t) => t.replaceAll('\u0000', ''));
      await fc.assert(
        fc.asyncProperty(text, text, text, fc.boolean(), async (customer, product, actor, moveCreatedAt) => {
          await client.query('BEGIN');
          await client.query(
            "SELECT set_config('orders_live.source', 'api', true), set_config('orders_live.actor', $1, true)",
            [actor],
          );
          const { rows } = await client.query(
            'INSERT INTO orders (customer_name, product_name) VALUES ($1, $2) RETURNING id',
            [customer, product],
          );
          const id = rows[0].id;
          await client.query("UPDATE orders SET status = 'shipped' WHERE id = $1", [id]);
          if (moveCreatedAt)
            await client.query(
              "UPDATE orders SET created_at = created_at - interval '1.5 hours' WHERE id = $1",
              [id],
            );
          await client.query('DELETE FROM orders WHERE id = $1', [id]);
          await client.query('COMMIT');
          const { rows: differ } = await client.query(
            `SELECT e.id, order_event_envelope(e, 7, now()) AS text FROM order_events e
             WHERE e.order_id = $1
               AND order_event_envelope(e, 7, now())::jsonb IS DISTINCT FROM pg_temp.envelope_0007(e, 7, now())::jsonb`,
            [id],
          );
          expect(differ).toEqual([]);
          // Whatever PostgreSQL stored (an empty actor falls back to user/application) comes back.
          const { rows: parsed } = await client.query(
            `SELECT order_event_envelope(e, 7, now()) AS text, e.actor, e."order" ->> 'customer_name' AS customer
             FROM order_events e WHERE e.order_id = $1 ORDER BY e.id`,
            [id],
          );
          expect(parsed).toHaveLength(moveCreatedAt ? 4 : 3);
          for (const row of parsed) {
            const envelope = JSON.parse(row.text);
            expect([envelope.actor, envelope.order.customer_name]).toEqual([row.actor, row.customer]);
          }
        }),
        { numRuns: 60 },
      );
      await client.query('TRUNCATE orders');
      const { rows: truncates } = await client.query(
        `SELECT order_event_envelope(e, 7, now()) AS text FROM order_events e
         WHERE e.op = 'truncate'
           AND order_event_envelope(e, 7, now())::jsonb IS NOT DISTINCT FROM pg_temp.envelope_0007(e, 7, now())::jsonb`,
      );
      expect(truncates.length).toBeGreaterThan(0);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  });

  it('gives the same envelope on every reading of a position', async () => {
    await pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('Bo', 'Lathe')");
    await numberEvents(pool);
    const { rows } = await pool.query('SELECT max(position)::int AS p FROM order_event_log');
    const [once] = await readRange(pool, rows[0].p, rows[0].p);
    const [again] = await readRange(pool, rows[0].p, rows[0].p);
    expect(once).toEqual(again);
    expect(once!.order!.customer_name).toBe('Bo');
    expect(typeof once!.txid).toBe('string');
    expect(typeof once!.order_id).toBe('number');
  });
});

/** Migration 0007's order_event_envelope(), read from its file, as the reference 0010 must agree with. */
const REFERENCE_ENVELOPE = (() => {
  const migration = readFileSync(
    new URL('../../migrations/1764000000007_batch-positions.sql', import.meta.url),
    'utf8',
  );
  const body = /CREATE FUNCTION order_event_envelope\(.*?\n\$\$;/s.exec(migration)?.[0];
  if (!body) throw new Error('order_event_envelope() not found in migration 0007');
  return body.replace('CREATE FUNCTION order_event_envelope(', 'CREATE FUNCTION pg_temp.envelope_0007(');
})();
