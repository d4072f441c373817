// Everything the API refuses, and how: each bad input gets its status and a problem+json body
// naming what is wrong, and the server answers the next valid request as before. Server-side
// failures become 500/503 problems without internals, logged at error level.

import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { createHttpServer } from '../../src/api/http-server.js';
import { createLogger } from '../../src/log.js';
import { DEFAULT_ACCESS, type RunningApi, startApi } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();
let api: RunningApi;

beforeAll(async () => {
  api = await startApi(db);
  const seed = await api.call('POST', '/orders', {
    json: { customer_name: 'Harry', product_name: 'iPhone 17' },
  });
  expect(seed.body.id).toBe(1);
});
afterAll(() => api.close());

interface Case {
  name: string;
  method: string;
  path: string;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  status: number;
  /** The field the problem's `errors` must name. */
  field?: string;
  /** What `detail` must say. */
  detail: RegExp;
}

interface LogLine {
  msg?: string;
  level?: number;
  err?: { stack?: string };
}

const valid = { customer_name: 'Harry', product_name: 'iPhone 17' };
const MB = 1024 * 1024;

// biome-ignore format: a table reads best with one case per line
const cases: Case[] = [
  // Bodies of POST /orders
  { name: 'unknown field', method: 'POST', path: '/orders', json: { ...valid, color: 'red' }, status: 400, field: 'color', detail: /color: is not a field/ },
  { name: 'number for a name', method: 'POST', path: '/orders', json: { ...valid, customer_name: 42 }, status: 400, field: 'customer_name', detail: /must be a string, not a number/ },
  { name: 'missing product_name', method: 'POST', path: '/orders', json: { customer_name: 'a' }, status: 400, field: 'product_name', detail: /product_name: is required/ },
  { name: 'empty name', method: 'POST', path: '/orders', json: { ...valid, customer_name: '' }, status: 400, field: 'customer_name', detail: /must not be empty/ },
  { name: 'blank name', method: 'POST', path: '/orders', json: { ...valid, product_name: ' \t ' }, status: 400, field: 'product_name', detail: /must not be empty/ },
  { name: '201-character name', method: 'POST', path: '/orders', json: { ...valid, customer_name: 'x'.repeat(201) }, status: 400, field: 'customer_name', detail: /at most 200 characters; got 201/ },
  { name: '201 emoji (402 UTF-16 units)', method: 'POST', path: '/orders', json: { ...valid, product_name: '🚀'.repeat(201) }, status: 400, field: 'product_name', detail: /at most 200 characters; got 201/ },
  { name: 'status outside the five', method: 'POST', path: '/orders', json: { ...valid, status: 'lost' }, status: 400, field: 'status', detail: /must be one of pending, processing, shipped, delivered, cancelled; got "lost"/ },
  { name: 'status in capitals', method: 'POST', path: '/orders', json: { ...valid, status: 'SHIPPED' }, status: 400, field: 'status', detail: /got "SHIPPED"/ },
  { name: 'null name', method: 'POST', path: '/orders', json: { ...valid, customer_name: null }, status: 400, field: 'customer_name', detail: /must be a string, not null/ },
  { name: 'object for a name', method: 'POST', path: '/orders', json: { ...valid, customer_name: { first: 'H' } }, status: 400, field: 'customer_name', detail: /not an object/ },
  { name: 'NUL character', method: 'POST', path: '/orders', json: { ...valid, customer_name: 'a\u0000b' }, status: 400, field: 'customer_name', detail: /NUL/ },
  { name: 'unpaired surrogate', method: 'POST', path: '/orders', body: '{"customer_name":"\\ud800","product_name":"p"}', headers: { 'content-type': 'application/json' }, status: 400, field: 'customer_name', detail: /valid Unicode/ },
  { name: 'array instead of an object', method: 'POST', path: '/orders', json: [valid], status: 400, field: 'body', detail: /must be a JSON object, not an array/ },
  { name: 'bare JSON string', method: 'POST', path: '/orders', body: '"Harry"', headers: { 'content-type': 'application/json' }, status: 400, field: 'body', detail: /^body: must be a JSON object, not a string$/ },
  { name: 'JSON null', method: 'POST', path: '/orders', body: 'null', headers: { 'content-type': 'application/json' }, status: 400, field: 'body', detail: /^body: must be a JSON object, not null$/ },
  { name: 'JSON null on PUT', method: 'PUT', path: '/orders/1', body: 'null', headers: { 'content-type': 'application/json' }, status: 400, field: 'body', detail: /^body: must be a JSON object, not null$/ },
  { name: 'malformed JSON', method: 'POST', path: '/orders', body: '{"customer_name": "Harry",', headers: { 'content-type': 'application/json' }, status: 400, field: 'body', detail: /not valid JSON/ },
  { name: 'no body', method: 'POST', path: '/orders', status: 400, field: 'body', detail: /body: is required/ },
  { name: 'text/plain body', method: 'POST', path: '/orders', body: JSON.stringify(valid), headers: { 'content-type': 'text/plain' }, status: 415, field: 'Content-Type', detail: /must be application\/json; got text\/plain/ },
  { name: 'form body', method: 'POST', path: '/orders', body: 'customer_name=a&product_name=b', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, field: 'Content-Type', detail: /application\/json/ },
  { name: 'Latin-1 charset', method: 'PATCH', path: '/orders/1', body: '{"status":"shipped"}', headers: { 'content-type': 'application/json; charset=latin1' }, status: 415, field: 'body', detail: /unsupported charset/ },
  { name: '1 MB body', method: 'POST', path: '/orders', json: { ...valid, customer_name: 'x'.repeat(MB) }, status: 413, field: 'body', detail: /larger than the limit of 102400 bytes/ },
  { name: 'three problems at once', method: 'POST', path: '/orders', json: { customer_name: '', product_name: 5, extra: 1 }, status: 400, field: 'extra', detail: /customer_name: must not be empty; product_name: must be a string, not a number; extra: is not a field/ },
  // Changes and ids
  { name: 'PATCH with a bad status', method: 'PATCH', path: '/orders/1', json: { status: 'lost' }, status: 400, field: 'status', detail: /must be one of/ },
  // Found by fuzz-api (seed -1151359002): 2^53 + 1 in JSON parses to 2^53, a whole number no order
  // can have; it was refused as "must be a whole number".
  { name: 'PATCH of a version beyond any order', method: 'PATCH', path: '/orders/1', json: { version: 2 ** 53 }, status: 400, field: 'version', detail: /version: must be at most 2147483647/ },
  { name: 'PATCH of a version just beyond an integer', method: 'PATCH', path: '/orders/1', json: { version: 2_147_483_648 }, status: 400, field: 'version', detail: /version: must be at most 2147483647/ },
  { name: 'PATCH of a version that is not a number', method: 'PATCH', path: '/orders/1', json: { version: '9' }, status: 400, field: 'version', detail: /version: must be a number, not a string/ },
  { name: 'PUT of another id', method: 'PUT', path: '/orders/1', json: { id: 2 }, status: 400, field: 'id', detail: /id: must be 1, the id in the path \(an order's id cannot change\); got 2/ },
  { name: 'PUT of a malformed created_at', method: 'PUT', path: '/orders/1', json: { created_at: 'yesterday' }, status: 400, field: 'created_at', detail: /created_at: must be an RFC 3339 timestamp/ },
  { name: 'PUT of POST-only members', method: 'PUT', path: '/orders/1', json: { position: 3 }, status: 400, field: 'position', detail: /position: is not a field/ },
  { name: 'unquoted If-Match', method: 'PUT', path: '/orders/1', json: { status: 'shipped' }, headers: { 'if-match': '1' }, status: 400, field: 'If-Match', detail: /quoted ETags/ },
  { name: 'id zero', method: 'PUT', path: '/orders/0', json: { status: 'shipped' }, status: 400, field: 'id', detail: /id: must be a whole number from 1 to 9007199254740991; got "0"/ },
  { name: 'negative id', method: 'DELETE', path: '/orders/-1', status: 400, field: 'id', detail: /got "-1"/ },
  { name: 'non-numeric id', method: 'GET', path: '/orders/abc', status: 400, field: 'id', detail: /got "abc"/ },
  { name: 'fractional id', method: 'GET', path: '/orders/1.5', status: 400, field: 'id', detail: /got "1.5"/ },
  { name: 'id 2^53', method: 'GET', path: '/orders/9007199254740992', status: 400, field: 'id', detail: /from 1 to 9007199254740991/ },
  { name: 'id beyond bigint', method: 'PATCH', path: '/orders/99999999999999999999', json: { status: 'shipped' }, status: 400, field: 'id', detail: /must be a whole number/ },
  { name: 'unknown id', method: 'GET', path: '/orders/123456', status: 404, detail: /order 123456 does not exist/ },
  { name: 'DELETE of an unknown id', method: 'DELETE', path: '/orders/123456', status: 404, detail: /order 123456 does not exist/ },
  // Query strings
  { name: 'limit 0', method: 'GET', path: '/orders?limit=0', status: 400, field: 'limit', detail: /limit: must be a whole number from 1 to 1000; got "0"/ },
  { name: 'limit 1001', method: 'GET', path: '/orders?limit=1001', status: 400, field: 'limit', detail: /got "1001"/ },
  { name: 'limit abc', method: 'GET', path: '/orders?limit=abc', status: 400, field: 'limit', detail: /got "abc"/ },
  { name: 'limit twice', method: 'GET', path: '/orders?limit=1&limit=2', status: 400, field: 'limit', detail: /limit: must be a whole number/ },
  { name: 'negative after', method: 'GET', path: '/orders?after=-1', status: 400, field: 'after', detail: /got "-1"/ },
  { name: 'status filter outside the five', method: 'GET', path: '/orders?status=lost', status: 400, field: 'status', detail: /must be one of/ },
  { name: 'unknown query parameter', method: 'GET', path: '/orders?sort=id', status: 400, field: 'sort', detail: /sort: is not a query parameter of GET \/orders/ },
  { name: 'events after abc', method: 'GET', path: '/events?after=abc', status: 400, field: 'after', detail: /after: must be a whole number/ },
  { name: 'events limit 5000', method: 'GET', path: '/events?limit=5000', status: 400, field: 'limit', detail: /from 1 to 1000/ },
  // Routes and methods
  { name: 'unknown route', method: 'GET', path: '/nope', status: 404, detail: /there is no GET \/nope/ },
  { name: 'unknown route with a body', method: 'POST', path: '/orders/1/items', json: valid, status: 404, detail: /there is no POST \/orders\/1\/items/ },
  { name: 'DELETE on the collection', method: 'DELETE', path: '/orders', status: 405, detail: /DELETE is not allowed on \/orders; use GET, HEAD, POST/ },
  { name: 'POST on an order', method: 'POST', path: '/orders/1', json: valid, status: 405, detail: /use GET, HEAD, PUT, PATCH, DELETE/ },
  { name: 'POST on /events', method: 'POST', path: '/events', status: 405, detail: /use GET, HEAD/ },
];

describe('bad inputs', () => {
  test.each(cases)(
    '$name → $status',
    async ({ method, path, json, body, headers, status, field, detail }) => {
      const res = await api.call(method, path, { json, body, headers });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: 'about:blank', status, title: expect.any(String) });
      expect(res.body.detail).toMatch(detail);
      if (field) expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      if (status === 405) expect(res.headers.get('allow')).toMatch(/^GET, HEAD/);
      expect(JSON.stringify(res.body)).not.toMatch(/at \S+\.(ts|js):\d+/); // no stack frames

      const after = await api.call('GET', '/orders/1');
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ id: 1, customer_name: 'Harry' });
    },
  );

  test.each([
    { name: 'SQL-looking text', text: "Robert'); DROP TABLE orders;--" },
    { name: 'exactly 200 emoji', text: '🚀'.repeat(200) },
    { name: 'mixed scripts', text: 'Zoë Ångström 東京 مرحبا' },
  ])('accepts $name and returns it unchanged', async ({ text }) => {
    const res = await api.call('POST', '/orders', { json: { customer_name: text, product_name: text } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ customer_name: text, product_name: text });
    const { rows } = await api.pool.query('SELECT customer_name FROM orders WHERE id = $1', [res.body.id]);
    expect(rows[0].customer_name).toBe(text);
  });

  it('lists the allowed methods for OPTIONS', async () => {
    const res = await api.call('OPTIONS', '/orders/1');
    expect(res.status).toBe(204);
    expect(res.headers.get('allow')).toBe('GET, HEAD, PUT, PATCH, DELETE');
  });
});

describe('server-side failures', () => {
  it('answers 500 without internals for an unexpected error and logs it with its stack', async () => {
    const lines: LogLine[] = [];
    const log = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line)) });
    const boom = await startApi(db, {
      log,
      extraHandlers: [
        (req, _res, next) => {
          if (req.path !== '/boom') return next();
          throw new Error('secret internals at /srv/app.js:12');
        },
      ],
    });
    try {
      const res = await boom.call('GET', '/boom');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        code: 'internal_error',
        detail: 'the server failed to handle this request; the error has been logged',
      });
      const logged = lines.find((l) => l.msg === 'request failed');
      expect(logged).toMatchObject({ level: 50, method: 'GET', path: '/boom' });
      expect(logged?.err?.stack).toMatch(/secret internals/);
    } finally {
      await boom.close();
    }
  });

  it('answers 503 with Retry-After while PostgreSQL is unreachable, and stays alive', async () => {
    // Port 1: nothing listens there, so every connection attempt is refused at once.
    const pool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMillis: 1_000,
    });
    pool.on('error', () => undefined);
    const log = createLogger('silent');
    const app = createApp({
      pool,
      log,
      registry: new Registry(),
      checks: [{ name: 'postgres', check: async () => void (await pool.query('SELECT 1')) }],
      access: DEFAULT_ACCESS,
      bodyLimitBytes: 1024,
    });
    const http = createHttpServer(app, { host: '127.0.0.1', port: 0, log });
    await http.start();
    try {
      const base = `http://127.0.0.1:${http.address().port}`;
      for (const [method, path, body] of [
        ['GET', '/orders', undefined],
        ['POST', '/orders', JSON.stringify(valid)],
      ] as const) {
        const res = await fetch(`${base}${path}`, {
          method,
          body,
          headers: { 'content-type': 'application/json' },
        });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(await res.json()).toMatchObject({ code: 'database_unavailable', retryable: true });
      }
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { detail: string }).detail).toMatch(/postgres: .*ECONNREFUSED/);
    } finally {
      await http.stop();
      await pool.end();
    }
  });
});
