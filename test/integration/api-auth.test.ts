// Bearer tokens on the API: with tokens configured reads stay open, writes need a valid token and
// are recorded as actor api/<token name>; without tokens writes are open.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApi, startApi } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
const OPS = { name: 'ops', token: 'ops-token-0123456789abcdef' };
const SHOP = { name: 'shop.web', token: 'shop-token-fedcba9876543210' };
let secured: RunningApi;
let open: RunningApi;
let orderId: number;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const order = { customer_name: 'Harry', product_name: 'iPhone 17' };

beforeAll(async () => {
  secured = await startApi(db, { tokens: [OPS, SHOP] });
  open = await startApi(db, { tokens: [] });
  orderId = (await secured.call('POST', '/orders', { json: order, headers: bearer(OPS.token) })).body.id;
});
afterAll(async () => {
  await secured.close();
  await open.close();
});

describe('with tokens configured', () => {
  it('keeps reads open', async () => {
    expect((await secured.call('GET', '/orders')).status).toBe(200);
    expect((await secured.call('GET', `/orders/${orderId}`)).status).toBe(200);
    expect((await secured.call('GET', '/events')).status).toBe(200);
    expect((await secured.call('GET', '/healthz')).status).toBe(200);
  });

  it.each([
    ['POST', '/orders', order],
    ['PUT', '/orders/1', { status: 'shipped' }],
    ['PATCH', '/orders/1', { status: 'shipped' }],
    ['DELETE', '/orders/1', undefined],
  ])('refuses %s %s without a token: 401 with a Bearer challenge', async (method, path, json) => {
    const res = await secured.call(method, path, { json });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="orders-live"');
    expect(res.body).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(res.body.detail).toMatch(/Authorization: Bearer <token>/);
  });

  it.each([
    ['a wrong token', { authorization: 'Bearer not-the-token-at-all-000' }],
    ['a prefix of a real token', { authorization: `Bearer ${OPS.token.slice(0, -1)}` }],
    ['the token with another scheme', { authorization: `Basic ${OPS.token}` }],
    ['the token name', { authorization: 'Bearer ops' }],
  ])('refuses a write with %s', async (_what, headers) => {
    const res = await secured.call('POST', '/orders', { json: order, headers });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="orders-live", error="invalid_token"');
    expect(res.body.detail).toMatch(/not valid/);
  });

  it('accepts each configured token and records its name as the actor', async () => {
    const created = await secured.call('POST', '/orders', { json: order, headers: bearer(SHOP.token) });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const changed = await secured.call('PATCH', `/orders/${id}`, {
      json: { status: 'shipped' },
      headers: { authorization: `bearer ${OPS.token}` }, // the scheme is case-insensitive
    });
    expect(changed.status).toBe(200);
    expect((await secured.call('DELETE', `/orders/${id}`, { headers: bearer(SHOP.token) })).status).toBe(204);
    const { rows } = await secured.pool.query(
      'SELECT op, source, actor FROM order_events WHERE order_id = $1 ORDER BY id',
      [id],
    );
    expect(rows).toEqual([
      { op: 'insert', source: 'api', actor: 'api/shop.web' },
      { op: 'update', source: 'api', actor: 'api/ops' },
      { op: 'delete', source: 'api', actor: 'api/shop.web' },
    ]);
  });

  it('checks the token before the body: an unauthenticated oversized body is 401, not 413', async () => {
    const res = await secured.call('POST', '/orders', { json: { customer_name: 'x'.repeat(200_000) } });
    expect(res.status).toBe(401);
  });
});

describe('without tokens', () => {
  it('lets writes through and records the database user as the actor', async () => {
    const created = await open.call('POST', '/orders', { json: order });
    expect(created.status).toBe(201);
    const { rows } = await open.pool.query('SELECT source, actor FROM order_events WHERE order_id = $1', [
      created.body.id,
    ]);
    expect(rows).toEqual([{ source: 'api', actor: 'postgres/orders-live-api' }]);
  });
});
