// The REST API on orders and events, against a real PostgreSQL: the original requests unchanged,
// reads with pages and positions, ETag/If-Match, and capture of API writes as source 'api'.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ISO_MICROS, numberEvents, type RunningApi, startApi } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
let api: RunningApi;

beforeAll(async () => {
  api = await startApi(db);
});
afterAll(() => api.close());
beforeEach(async () => {
  await api.pool.query(
    'TRUNCATE orders RESTART IDENTITY; TRUNCATE order_events RESTART IDENTITY; TRUNCATE order_event_batches; UPDATE bridge_state SET last_position = 0, confirmed_through = 0, events_confirmed_through = 0',
  );
});

async function create(customer = 'Harry', product = 'iPhone 17', status?: string) {
  const res = await api.call('POST', '/orders', {
    json: { customer_name: customer, product_name: product, status },
  });
  expect(res.status).toBe(201);
  return res.body as { id: number; version: number; status: string };
}

async function eventsInLog() {
  const { rows } = await api.pool.query(
    'SELECT op, order_id::int AS order_id, version, source, actor, changes FROM order_events ORDER BY id',
  );
  return rows;
}

describe('the original API, unchanged', () => {
  it('POST /orders creates an order: 201, the order, Location and ETag', async () => {
    const res = await api.call('POST', '/orders', {
      json: { customer_name: 'Harry', product_name: 'iPhone 17', status: 'pending' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      id: 1,
      customer_name: 'Harry',
      product_name: 'iPhone 17',
      status: 'pending',
      version: 1,
      created_at: expect.stringMatching(ISO_MICROS),
      updated_at: expect.stringMatching(ISO_MICROS),
    });
    expect(res.body.created_at).toBe(res.body.updated_at);
    expect(res.headers.get('location')).toBe('/orders/1');
    expect(res.headers.get('etag')).toBe('"1"');
  });

  it('PUT /orders/:id {status} changes the status and bumps the version', async () => {
    const order = await create();
    const res = await api.call('PUT', `/orders/${order.id}`, { json: { status: 'shipped' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: order.id, customer_name: 'Harry', status: 'shipped', version: 2 });
    expect(res.body.updated_at > res.body.created_at).toBe(true);
    expect(res.headers.get('etag')).toBe('"2"');
  });

  it('DELETE /orders/:id answers 204 with no body, and the order is gone', async () => {
    const order = await create();
    const res = await api.call('DELETE', `/orders/${order.id}`);
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    expect((await api.call('GET', `/orders/${order.id}`)).status).toBe(404);
    expect((await api.pool.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(0);
  });

  it('POST without status creates a pending order', async () => {
    expect((await create('Ann', 'Pixel')).status).toBe('pending');
  });
});

describe('reads', () => {
  it('GET /orders/:id answers the order with its ETag, and 304 for a matching If-None-Match', async () => {
    const order = await create();
    await api.call('PATCH', `/orders/${order.id}`, { json: { status: 'processing' } });
    const res = await api.call('GET', `/orders/${order.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: order.id, status: 'processing', version: 2 });
    expect(res.headers.get('etag')).toBe('"2"');
    // fetch adds Cache-Control: no-cache to a request with If-None-Match unless one is given;
    // max-age=0 is what a browser sends when it revalidates.
    const revalidate = { 'cache-control': 'max-age=0' };
    const cached = await api.call('GET', `/orders/${order.id}`, {
      headers: { 'if-none-match': '"2"', ...revalidate },
    });
    expect(cached.status).toBe(304);
    const stale = await api.call('GET', `/orders/${order.id}`, {
      headers: { 'if-none-match': '"1"', ...revalidate },
    });
    expect(stale.status).toBe(200);
  });

  it('GET /orders pages by id with a cursor, filters by status and sends X-Event-Position', async () => {
    for (const status of ['pending', 'shipped', 'pending', 'shipped', 'pending'])
      await create('c', 'p', status);
    await api.pool.query('UPDATE bridge_state SET last_position = 42');

    const first = await api.call('GET', '/orders?limit=2');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-event-position')).toBe('42');
    expect(first.headers.get('x-event-epoch')).toBe('1');
    expect(first.body.orders.map((o: { id: number }) => o.id)).toEqual([1, 2]);
    expect(first.body.next).toBe(2);
    const second = await api.call('GET', '/orders?limit=2&after=2');
    expect(second.body).toMatchObject({ next: 4 });
    expect(second.body.orders.map((o: { id: number }) => o.id)).toEqual([3, 4]);
    const last = await api.call('GET', '/orders?limit=2&after=4');
    expect(last.body.orders.map((o: { id: number }) => o.id)).toEqual([5]);
    expect(last.body.next).toBeNull();

    const shipped = await api.call('GET', '/orders?status=shipped');
    expect(shipped.body.orders.map((o: { id: number; status: string }) => [o.id, o.status])).toEqual([
      [2, 'shipped'],
      [4, 'shipped'],
    ]);
    expect(shipped.body.next).toBeNull();
  });

  it('a page that ends exactly at the last order has next: null', async () => {
    await create();
    await create();
    const res = await api.call('GET', '/orders?limit=2');
    expect(res.body.orders).toHaveLength(2);
    expect(res.body.next).toBeNull();
  });

  it('GET /events answers published events after a position, with next', async () => {
    const order = await create();
    await api.call('PUT', `/orders/${order.id}`, { json: { status: 'shipped' } });
    expect(await numberEvents(api.pool)).toBe(2);
    await create('unpublished', 'p'); // captured, not yet numbered: not served

    const all = await api.call('GET', '/events');
    expect(all.status).toBe(200);
    expect(all.body.events.map((e: { position: number; op: string }) => [e.position, e.op])).toEqual([
      [1, 'insert'],
      [2, 'update'],
    ]);
    expect(all.body.events[1]).toMatchObject({
      order_id: order.id,
      version: 2,
      source: 'api',
      changes: { status: ['pending', 'shipped'] },
      order: { id: order.id, status: 'shipped', version: 2 },
    });
    expect(all.body.next).toBe(2);
    const page = await api.call('GET', '/events?after=1&limit=1');
    expect(page.body.events.map((e: { position: number }) => e.position)).toEqual([2]);
    expect(page.body.next).toBe(2);
    const none = await api.call('GET', '/events?after=2');
    expect(none.body).toEqual({ events: [], next: 2 });
  });
});

/** A write of status "shipped" with that If-Match. */
function shipWith(method: 'PUT' | 'PATCH', path: string, ifMatch: string) {
  return api.call(method, path, { json: { status: 'shipped' }, headers: { 'if-match': ifMatch } });
}

describe('partial changes and If-Match', () => {
  it('PATCH changes only the given fields', async () => {
    const order = await create('Harry', 'iPhone 17');
    const res = await api.call('PATCH', `/orders/${order.id}`, { json: { product_name: 'iPad' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      customer_name: 'Harry',
      product_name: 'iPad',
      status: 'pending',
      version: 2,
    });
  });

  it('a PUT that changes nothing answers 200 with the same version and captures nothing', async () => {
    const order = await create('Harry', 'iPhone 17');
    const res = await api.call('PUT', `/orders/${order.id}`, {
      json: { customer_name: 'Harry', status: 'pending' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: 1, status: 'pending' });
    expect(res.headers.get('etag')).toBe('"1"');
    const empty = await api.call('PATCH', `/orders/${order.id}`, { json: {} });
    expect(empty.status).toBe(200);
    expect(empty.body.version).toBe(1);
    expect((await eventsInLog()).map((e) => e.op)).toEqual(['insert']);
  });

  it('answers 412 to a stale If-Match and applies a current one, on PUT, PATCH and DELETE', async () => {
    const order = await create();
    const stale = await shipWith('PUT', `/orders/${order.id}`, '"7"');
    expect(stale.status).toBe(412);
    expect(stale.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(stale.body).toMatchObject({ status: 412, code: 'version_mismatch' });
    expect(stale.body.detail).toMatch(/version 1/);

    const fresh = await shipWith('PATCH', `/orders/${order.id}`, '"1"');
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('etag')).toBe('"2"');

    const weak = await api.call('DELETE', `/orders/${order.id}`, { headers: { 'if-match': 'W/"2"' } });
    expect(weak.status).toBe(412); // weak ETags never match a write
    const staleDelete = await api.call('DELETE', `/orders/${order.id}`, { headers: { 'if-match': '"1"' } });
    expect(staleDelete.status).toBe(412);
    expect((await api.call('GET', `/orders/${order.id}`)).status).toBe(200);
    const listed = await api.call('DELETE', `/orders/${order.id}`, { headers: { 'if-match': '"1", "2"' } });
    expect(listed.status).toBe(204);
  });

  it('If-Match: * needs the order to exist; an unknown id is 404, not 412', async () => {
    const order = await create();
    const star = await shipWith('PUT', `/orders/${order.id}`, '*');
    expect(star.status).toBe(200);
    const missing = await shipWith('PUT', '/orders/999', '"1"');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'order_not_found', detail: 'order 999 does not exist' });
    expect((await api.call('DELETE', '/orders/999', { headers: { 'if-match': '*' } })).status).toBe(404);
  });

  it('of two concurrent PUTs with the same If-Match, exactly one wins', async () => {
    for (let round = 0; round < 10; round++) {
      const order = await create();
      const put = (status: string) =>
        api.call('PUT', `/orders/${order.id}`, { json: { status }, headers: { 'if-match': '"1"' } });
      const results = await Promise.all([put('shipped'), put('cancelled')]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
      const winner = results.find((r) => r.status === 200)!;
      const { rows } = await api.pool.query('SELECT status, version FROM orders WHERE id = $1', [order.id]);
      expect(rows[0]).toEqual({ status: winner.body.status, version: 2 });
    }
  });
});

describe('PUT takes back what GET returned', () => {
  it('ignores the read-only fields when they agree, and treats version as If-Match', async () => {
    const order = await create();
    const got = (await api.call('GET', `/orders/${order.id}`)).body;
    const res = await api.call('PUT', `/orders/${order.id}`, { json: { ...got, status: 'shipped' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: order.id,
      status: 'shipped',
      version: 2,
      created_at: got.created_at,
    });
    // The same object again: its version (1) is stale now, as an If-Match of "1" would be.
    const stale = await api.call('PUT', `/orders/${order.id}`, { json: { ...got, status: 'delivered' } });
    expect(stale.status).toBe(412);
    expect(stale.body.detail).toBe(
      `order ${order.id} is at version 2, not the one in If-Match or the body's version; fetch it again and retry`,
    );
    expect((await api.call('GET', `/orders/${order.id}`)).body.status).toBe('shipped');
  });

  it("refuses an id other than the path's (400) and timestamps that differ from the stored order (412)", async () => {
    const order = await create();
    const got = (await api.call('GET', `/orders/${order.id}`)).body;
    const moved = await api.call('PUT', `/orders/${order.id}`, { json: { ...got, id: order.id + 1 } });
    expect(moved.status).toBe(400);
    expect(moved.body.errors).toEqual([
      {
        field: 'id',
        message: `must be ${order.id}, the id in the path (an order's id cannot change); got ${order.id + 1}`,
      },
    ]);
    const older = await api.call('PUT', `/orders/${order.id}`, {
      json: { ...got, created_at: '2020-01-01T00:00:00Z', status: 'shipped' },
    });
    expect(older.status).toBe(412);
    expect(older.body).toMatchObject({ code: 'read_only_mismatch' });
    expect(older.body.detail).toContain(
      `order ${order.id} has created_at ${got.created_at}, not the one sent`,
    );
    // The same instant written another way agrees.
    const sameInstant = got.created_at.replace('Z', '+00:00');
    const ok = await api.call('PATCH', `/orders/${order.id}`, {
      json: { created_at: sameInstant, status: 'shipped' },
    });
    expect(ok.status).toBe(200);
  });

  it('refuses a body version that contradicts If-Match', async () => {
    const order = await create();
    const res = await api.call('PATCH', `/orders/${order.id}`, {
      json: { version: 1, status: 'shipped' },
      headers: { 'if-match': '"2"' },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { field: 'version', message: 'is 1 but If-Match says "2": send one of them' },
    ]);
  });
});

describe('capture of API writes', () => {
  it('records API writes in order_events with source api', async () => {
    const order = await create();
    await api.call('PATCH', `/orders/${order.id}`, { json: { status: 'delivered' } });
    await api.call('DELETE', `/orders/${order.id}`);
    // A write made in SQL on the API's own pool afterwards is sql again: the setting is local.
    await api.pool.query("INSERT INTO orders (customer_name, product_name) VALUES ('psql', 'p')");
    expect(await eventsInLog()).toEqual([
      {
        op: 'insert',
        order_id: order.id,
        version: 1,
        source: 'api',
        actor: 'postgres/orders-live-api',
        changes: null,
      },
      {
        op: 'update',
        order_id: order.id,
        version: 2,
        source: 'api',
        actor: 'postgres/orders-live-api',
        changes: { status: ['pending', 'delivered'] },
      },
      {
        op: 'delete',
        order_id: order.id,
        version: 3,
        source: 'api',
        actor: 'postgres/orders-live-api',
        changes: null,
      },
      {
        op: 'insert',
        order_id: 2,
        version: 1,
        source: 'sql',
        actor: 'postgres/orders-live-api',
        changes: null,
      },
    ]);
  });

  it('stores SQL-looking and non-Latin text verbatim', async () => {
    const names = ["Robert'); DROP TABLE orders;--", 'Zoë 🚀 東京 \u202e', "' OR 1=1 --", '$1 $$ \\x00'];
    for (const name of names) {
      const res = await api.call('POST', '/orders', { json: { customer_name: name, product_name: name } });
      expect(res.status).toBe(201);
      expect(res.body.customer_name).toBe(name);
      expect((await api.call('GET', `/orders/${res.body.id}`)).body.product_name).toBe(name);
    }
    const { rows } = await api.pool.query('SELECT customer_name FROM orders ORDER BY id');
    expect(rows.map((r) => r.customer_name)).toEqual(names);
  });
});
