// The envelope as PostgreSQL writes it (order_event_envelope(), migration 0007) — the one text the
// relay publishes and every reader parses: timestamps in RFC 3339, UTC, `Z`, microseconds (the
// order's and the capture's) or milliseconds (published_at), whatever the writer's time zone.

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
