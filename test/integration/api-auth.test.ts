// Bearer tokens on the API: with tokens configured every route that returns or changes data needs
// one (401), writes a read-write one (403 for a read-only token), writes are recorded as actor
// api/<token name>; /healthz and /readyz stay open and say nothing about orders; /metrics needs a
// token or moves to its own loopback listener. Without tokens everything is open to local callers.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsApp } from '../../src/api/app.js';
import { createHttpServer } from '../../src/api/http-server.js';
import { createLogger } from '../../src/log.js';
import { type RunningApi, rawRequest, startApi } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
const OPS = { name: 'ops', token: 'ops-token-0123456789abcdef', access: 'write' } as const;
const SHOP = { name: 'shop.web', token: 'shop-token-fedcba9876543210', access: 'write' } as const;
const WALL = { name: 'wall', token: 'wall-token-00112233445566', access: 'read' } as const;
let secured: RunningApi;
let open: RunningApi;
let orderId: number;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const order = { customer_name: 'Harry', product_name: 'iPhone 17' };
const READS = ['/orders', '/orders/1', '/events?after=0&limit=1000', '/access', '/metrics'];
const WRITES = [
  ['POST', '/orders', order],
  ['PUT', '/orders/1', { status: 'shipped' }],
  ['PATCH', '/orders/1', { status: 'shipped' }],
  ['DELETE', '/orders/1', undefined],
] as const;

beforeAll(async () => {
  secured = await startApi(db, { access: { apiTokens: [OPS, SHOP, WALL] } });
  open = await startApi(db);
  orderId = (await secured.call('POST', '/orders', { json: order, headers: bearer(OPS.token) })).body.id;
});
afterAll(async () => {
  await secured.close();
  await open.close();
});

describe('with tokens configured', () => {
  it.each(READS)('refuses GET %s without a token: 401 with a Bearer challenge and no data', async (path) => {
    const res = await secured.call('GET', path);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="orders-live"');
    expect(res.body).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(res.body.detail).toMatch(/this route needs a bearer token: send Authorization: Bearer <token>/);
    expect(JSON.stringify(res.body)).not.toContain('Harry');
  });

  it.each(READS)('serves GET %s to a read-only token', async (path) => {
    const res = await secured.call('GET', path.replace('/orders/1', `/orders/${orderId}`), {
      headers: bearer(WALL.token),
    });
    expect(res.status).toBe(200);
  });

  it('tells a caller what its token allows (GET /access)', async () => {
    expect((await secured.call('GET', '/access', { headers: bearer(WALL.token) })).body).toEqual({
      tokens_required: true,
      caller: 'wall',
      access: 'read',
    });
    expect((await secured.call('GET', '/access', { headers: bearer(OPS.token) })).body).toEqual({
      tokens_required: true,
      caller: 'ops',
      access: 'write',
    });
  });

  it('keeps /healthz and /readyz open, saying nothing about orders', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await secured.call('GET', path);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(path === '/healthz' ? ['status'] : ['checks', 'status']);
      expect(JSON.stringify(res.body)).not.toMatch(/Harry|order_id|customer/);
    }
  });

  it.each(WRITES)('refuses %s %s without a token: 401', async (method, path, json) => {
    const res = await secured.call(method, path, { json });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="orders-live"');
    expect(res.body.detail).toMatch(/changes need a bearer token/);
  });

  it.each(WRITES)(
    'refuses %s %s with a read-only token: 403, nothing changed',
    async (method, path, json) => {
      const before = await secured.pool.query('SELECT count(*)::int AS n FROM order_events');
      const res = await secured.call(method, path.replace('/1', `/${orderId}`), {
        json,
        headers: bearer(WALL.token),
      });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ status: 403, code: 'forbidden' });
      expect(res.body.detail).toBe(
        'the token "wall" is read-only; changes need a read-write token of API_TOKENS',
      );
      expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
      const after = await secured.pool.query('SELECT count(*)::int AS n FROM order_events');
      expect(after.rows[0].n).toBe(before.rows[0].n);
    },
  );

  it.each([
    ['a wrong token', { authorization: 'Bearer not-the-token-at-all-000' }],
    ['a prefix of a real token', { authorization: `Bearer ${OPS.token.slice(0, -1)}` }],
    ['the token with another scheme', { authorization: `Basic ${OPS.token}` }],
    ['the token name', { authorization: 'Bearer ops' }],
  ])('refuses a read and a write with %s', async (_what, headers) => {
    for (const [method, json] of [
      ['GET', undefined],
      ['POST', order],
    ] as const) {
      const res = await secured.call(method, '/orders', { json, headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="orders-live", error="invalid_token"');
      expect(res.body.detail).toMatch(/not valid/);
    }
  });

  it('accepts each read-write token and records its name as the actor', async () => {
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

describe('/metrics on its own listener (METRICS_PORT)', () => {
  it('is not served on the API port; the loopback listener serves it without a token, under loopback names only', async () => {
    const api = await startApi(db, { access: { apiTokens: [OPS], metricsPort: 0 } });
    const log = createLogger('silent');
    const metrics = createHttpServer(createMetricsApp({ registry: api.registry, log }), {
      host: '127.0.0.1',
      port: 0,
      log,
    });
    await metrics.start();
    try {
      const onApi = await api.call('GET', '/metrics', { headers: bearer(OPS.token) });
      expect(onApi.status).toBe(404);
      const scraped = await fetch(`${metrics.url()}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toMatch(
        /^http_requests_total{method="GET",route="\/metrics",status="404"} 1$/m,
      );
      for (const path of ['/orders', '/healthz', '/'])
        expect((await fetch(`${metrics.url()}${path}`)).status).toBe(404);
      const rebound = await rawRequest(`${metrics.url()}/metrics`, { headers: { host: 'attacker.example' } });
      expect(rebound.status).toBe(421);
    } finally {
      await metrics.stop();
      await api.close();
    }
  });
});

describe('without tokens', () => {
  it('lets reads and writes through and records the database user as the actor', async () => {
    const created = await open.call('POST', '/orders', { json: order });
    expect(created.status).toBe(201);
    expect((await open.call('GET', `/orders/${created.body.id}`)).status).toBe(200);
    expect((await open.call('GET', '/metrics')).status).toBe(200);
    expect((await open.call('GET', '/access')).body).toEqual({
      tokens_required: false,
      caller: null,
      access: 'write',
    });
    const { rows } = await open.pool.query('SELECT source, actor FROM order_events WHERE order_id = $1', [
      created.body.id,
    ]);
    expect(rows).toEqual([{ source: 'api', actor: 'postgres/orders-live-api' }]);
  });
});
