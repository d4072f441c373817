// What guards the REST API beyond tokens: the Host check against DNS rebinding, browser origins
// and CORS, the per-client rate limit, bodies that are not UTF-8 and error lists kept short.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApi, rawRequest, startApi } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
const OPS = { name: 'ops', token: 'ops-token-0123456789abcdef', access: 'write' } as const;
const WALL = { name: 'wall', token: 'wall-token-00112233445566', access: 'read' } as const;
const order = { customer_name: 'Harry', product_name: 'iPhone 17' };
let local: RunningApi;

beforeAll(async () => {
  local = await startApi(db, {
    access: { allowedOrigins: ['https://wall.example.com'], allowedHosts: ['orders.example.com'] },
  });
});
afterAll(() => local.close());

const eventCount = async (api: RunningApi) =>
  (await api.pool.query('SELECT count(*)::int AS n FROM order_events')).rows[0].n as number;

describe('without tokens: the Host header (DNS rebinding)', () => {
  it.each([
    ['POST', '/orders', JSON.stringify(order)],
    ['DELETE', '/orders/1', undefined],
    ['GET', '/orders', undefined],
    ['GET', '/events?after=0&limit=1000', undefined],
    ['GET', '/metrics', undefined],
    ['GET', '/openapi.json', undefined],
  ])(
    'refuses %s %s under a foreign name with 421 problem+json, changing nothing',
    async (method, path, body) => {
      const before = await eventCount(local);
      const res = await rawRequest(`${local.url}${path}`, {
        method,
        body,
        headers: { host: 'attacker.example', 'content-type': 'application/json' },
      });
      expect(res.status).toBe(421);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 421, code: 'host_not_allowed' });
      expect(res.body.detail).toMatch(/Host "attacker.example" is not a name of this server/);
      expect(await eventCount(local)).toBe(before);
    },
  );

  it('serves loopback names and ALLOWED_HOSTS', async () => {
    for (const host of ['localhost', '127.0.0.1:9', '[::1]', 'orders.example.com'])
      expect((await rawRequest(`${local.url}/orders`, { headers: { host } })).status).toBe(200);
  });

  it('answers /healthz and /readyz under any name: probes tell nothing about orders', async () => {
    for (const path of ['/healthz', '/readyz'])
      expect((await rawRequest(`${local.url}${path}`, { headers: { host: '10.1.2.3:3000' } })).status).toBe(
        200,
      );
  });

  it('serves any name once tokens are configured, to a caller with a token', async () => {
    const api = await startApi(db, { access: { apiTokens: [OPS] } });
    try {
      const res = await rawRequest(`${api.url}/orders`, {
        headers: { host: 'orders.internal:8080', authorization: `Bearer ${OPS.token}` },
      });
      expect(res.status).toBe(200);
    } finally {
      await api.close();
    }
  });
});

describe('browser origins and CORS', () => {
  const self = () => new URL(local.url).origin;

  it('refuses a request from a foreign page with 403, before it changes anything', async () => {
    const before = await eventCount(local);
    for (const origin of ['http://evil.example', 'null', `${self().replace('127.0.0.1', 'localhost')}`]) {
      const res = await local.call('POST', '/orders', { json: order, headers: { origin } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'origin_not_allowed' });
      expect(res.body.detail).toMatch(
        /may not use this server: only its own origin and https:\/\/wall.example.com/,
      );
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect(await eventCount(local)).toBe(before);
  });

  it("serves the server's own page (same origin) without CORS headers", async () => {
    const res = await local.call('POST', '/orders', { json: order, headers: { origin: self() } });
    expect(res.status).toBe(201);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a preflight from ALLOWED_ORIGINS, and its requests with CORS headers', async () => {
    const preflight = await local.call('OPTIONS', '/orders/1', {
      headers: {
        origin: 'https://wall.example.com',
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'authorization, content-type, if-match',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://wall.example.com');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(
      /Authorization.*Content-Type.*If-Match/,
    );
    expect(preflight.headers.get('vary')).toMatch(/Origin/);

    const read = await local.call('GET', '/orders', { headers: { origin: 'https://wall.example.com' } });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBe('https://wall.example.com');
    expect(read.headers.get('access-control-expose-headers')).toMatch(/X-Event-Position/);
    expect(read.headers.get('access-control-expose-headers')).toMatch(/X-Event-Epoch/);
  });

  it('refuses a preflight from any other origin', async () => {
    const res = await local.call('OPTIONS', '/orders', {
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('rate limit', () => {
  it('answers the request past the limit with 429 problem+json and Retry-After, per client', async () => {
    const api = await startApi(db, {
      access: { apiTokens: [OPS, WALL], rateLimit: { limit: 5, windowMs: 60_000 } },
    });
    try {
      const asWall = { authorization: `Bearer ${WALL.token}` };
      for (let i = 0; i < 5; i++)
        expect((await api.call('GET', '/orders', { headers: asWall })).status).toBe(200);
      const limited = await api.call('GET', '/orders', { headers: asWall });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(limited.body).toMatchObject({ status: 429, code: 'rate_limited', retryable: true });
      expect(limited.body.detail).toMatch(
        /^the token "wall" sent more than 5 requests in 60 s \(RATE_LIMIT\); retry after \d+ s$/,
      );
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(limited.headers.get('ratelimit-policy')).toBe('5;w=60');

      // Another client (another token) has its own count; probes are never limited.
      expect(
        (await api.call('GET', '/orders', { headers: { authorization: `Bearer ${OPS.token}` } })).status,
      ).toBe(200);
      for (let i = 0; i < 10; i++) expect((await api.call('GET', '/healthz')).status).toBe(200);

      // Without a token the address is the client: its own count, then 429 as well.
      let status = 0;
      for (let i = 0; i < 6; i++) status = (await api.call('GET', '/orders')).status;
      expect(status).toBe(429);
    } finally {
      await api.close();
    }
  });
});

describe('bodies', () => {
  it('refuses a body that is not UTF-8 with 400, storing nothing', async () => {
    const before = await eventCount(local);
    const body = Buffer.concat([
      Buffer.from('{"customer_name":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","product_name":"x"}'),
    ]);
    const res = await rawRequest(`${local.url}/orders`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'invalid_utf8', errors: [{ field: 'body' }] });
    expect(res.body.detail).toBe('body: is not valid UTF-8: JSON text must be UTF-8 (RFC 8259)');
    expect(await eventCount(local)).toBe(before);
  });

  it('lists the first 20 problems of a 60 kB body of 6,000 unknown keys, with their count', async () => {
    const json = Object.fromEntries(Array.from({ length: 6_000 }, (_, i) => [`k${i}`, 0]));
    const res = await local.call('POST', '/orders', { json: { ...order, ...json } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(20);
    expect(res.body.error_count).toBe(6_000);
    expect(res.body.detail).toMatch(/; and 5980 more \(6000 problems in all\)$/);
    expect(JSON.stringify(res.body).length).toBeLessThan(4_000);
  });

  it('cuts long field names in the list', async () => {
    const res = await local.call('POST', '/orders', { json: { ...order, ['k'.repeat(50_000)]: 1 } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe(`${'k'.repeat(63)}…`);
    expect(JSON.stringify(res.body).length).toBeLessThan(1_000);
  });
});
