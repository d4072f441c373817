// GET /orders/:id/events: one order's history, newest first, in pages, with the envelope and the
// access rules of GET /events; deleted orders keep theirs while the log retains it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../src/contract/events.js';
import { numberEvents, type RunningApi, startApi } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';

const READER = { name: 'wall', token: 'wall-token-00112233445566', access: 'read' } as const;
const db = useTestDatabase();
let open: RunningApi;
let secured: RunningApi;
let id: number;

beforeAll(async () => {
  open = await startApi(db);
  secured = await startApi(db, { access: { apiTokens: [READER] } });
  const psql = db.pool({ application_name: 'psql' });
  try {
    const { rows } = await psql.query(
      "INSERT INTO orders (customer_name, product_name) VALUES ('Ada', 'Pixel 10'), ('Other', 'x') RETURNING id",
    );
    id = Number(rows[0].id);
    for (const status of ['processing', 'shipped', 'delivered'])
      await psql.query('UPDATE orders SET status = $2 WHERE id = $1', [id, status]);
    await psql.query("UPDATE orders SET status = 'cancelled' WHERE id <> $1", [id]);
    await psql.query('DELETE FROM orders WHERE id = $1', [id]);
  } finally {
    await psql.end();
  }
  await numberEvents(open.pool);
});
afterAll(async () => {
  await open.close();
  await secured.close();
});

const ops = (events: OrderEvent[]) => events.map((e) => `${e.op}:${e.version}`);

describe('GET /orders/:id/events', () => {
  it("gives a deleted order's whole story newest first, in pages, as GET /events has it", async () => {
    const first = await open.call('GET', `/orders/${id}/events?limit=2`);
    expect(first.status).toBe(200);
    expect(ops(first.body.events)).toEqual(['delete:5', 'update:4']);
    const second = await open.call('GET', `/orders/${id}/events?limit=2&before=${first.body.next}`);
    expect(ops(second.body.events)).toEqual(['update:3', 'update:2']);
    const last = await open.call('GET', `/orders/${id}/events?limit=2&before=${second.body.next}`);
    expect(ops(last.body.events)).toEqual(['insert:1']);
    expect(last.body.next).toBeNull();

    const all = [...first.body.events, ...second.body.events, ...last.body.events] as OrderEvent[];
    expect(all.every((e) => e.order_id === id && e.source === 'sql' && e.actor === 'postgres/psql')).toBe(
      true,
    );
    expect(all[1]!.changes).toEqual({ status: ['shipped', 'delivered'] });
    // The same envelopes, byte for byte, as the log by position gives.
    const log = await open.call('GET', '/events?after=0&limit=1000');
    const byPosition = new Map((log.body.events as OrderEvent[]).map((e) => [e.position, e]));
    for (const event of all) expect(event).toEqual(byPosition.get(event.position));
  });

  it('leaves out what is not published yet, and tells an order it never saw', async () => {
    const psql = db.pool({ application_name: 'psql' });
    try {
      const { rows } = await psql.query(
        "INSERT INTO orders (customer_name, product_name) VALUES ('Late', 'x') RETURNING id",
      );
      const late = await open.call('GET', `/orders/${rows[0].id}/events`);
      expect(late.status).toBe(200);
      expect(late.body).toEqual({ events: [], next: null });
    } finally {
      await psql.end();
    }
    const never = await open.call('GET', '/orders/999999/events');
    expect(never.status).toBe(404);
    expect(never.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(never.body.detail).toBe(
      'order 999999 has no events: it never existed, or retention has removed them all',
    );
  });

  it('refuses bad ids and queries with a problem naming the field', async () => {
    const bad = await open.call('GET', `/orders/${id}/events?before=0&limit=5000&colour=red`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'before',
      'colour',
      'limit',
    ]);
    expect((await open.call('GET', '/orders/abc/events')).status).toBe(400);
    expect((await open.call('POST', `/orders/${id}/events`)).status).toBe(405);
  });

  it('needs a token, a read-only one will do, when tokens are configured', async () => {
    const anonymous = await secured.call('GET', `/orders/${id}/events`);
    expect(anonymous.status).toBe(401);
    const reader = await secured.call('GET', `/orders/${id}/events`, {
      headers: { Authorization: `Bearer ${READER.token}` },
    });
    expect(reader.status).toBe(200);
    expect(reader.body.events).toHaveLength(5);
  });
});
