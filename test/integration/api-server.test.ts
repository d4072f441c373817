// The app around the routes: ops endpoints, the OpenAPI document, security headers, request logs
// and metrics, and a listener that stops gracefully.

import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { createHttpServer } from '../../src/api/http-server.js';
import { createLogger } from '../../src/log.js';
import { DEFAULT_ACCESS, type RunningApi, startApi } from '../helpers/api.js';
import { useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const db = useTestDatabase();
const logLines: { msg?: string; method?: string; path?: string; status?: number; durationMs?: number }[] = [];
let api: RunningApi;

beforeAll(async () => {
  const log = createLogger('debug', { write: (line: string) => void logLines.push(JSON.parse(line)) });
  api = await startApi(db, { log });
});
afterAll(() => api.close());

describe('ops endpoints', () => {
  it('answers /healthz, /readyz and /metrics', async () => {
    expect((await api.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await api.call('GET', '/readyz')).body).toEqual({ status: 'ready', checks: { postgres: 'ok' } });
    const metrics = await api.call('GET', '/metrics');
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const wrong = await api.call('POST', '/healthz');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
  });

  it('counts requests and their durations by method, route pattern and status', async () => {
    await api.call('POST', '/orders', { json: { customer_name: 'm', product_name: 'p' } });
    await api.call('GET', '/orders/1');
    await api.call('GET', '/orders/2');
    await api.call('GET', '/no/such/route');
    const metrics = await waitFor(
      async () => {
        const text = (await api.call('GET', '/metrics')).body as string;
        return text.includes('route="unmatched"') ? text : null;
      },
      { what: 'the 404 to be counted' },
    );
    expect(metrics).toContain('http_requests_total{method="POST",route="/orders",status="201"} 1');
    expect(metrics).toContain('http_requests_total{method="GET",route="/orders/:id",status="200"} 1');
    expect(metrics).toContain('http_requests_total{method="GET",route="/orders/:id",status="404"} 1');
    expect(metrics).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{method="POST",route="\/orders",status="201"\} 1/,
    );
  });

  it('logs each request with method, path, status and duration', async () => {
    await api.call('PATCH', '/orders/1?x=1', { json: { status: 'shipped' } });
    const line = await waitFor(() => logLines.find((l) => l.msg === 'request' && l.method === 'PATCH'), {
      what: 'the request log line',
    });
    expect(line).toMatchObject({ path: '/orders/1', status: 200, durationMs: expect.any(Number) });
  });
});

describe('documents and headers', () => {
  it('serves an OpenAPI 3.1 document listing every route and method the app serves', async () => {
    const res = await api.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, item]) =>
        Object.keys(item)
          .filter((k) => k !== 'parameters')
          .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const app = createApp({
      pool: api.pool,
      log: createLogger('silent'),
      registry: api.registry,
      checks: [],
      access: DEFAULT_ACCESS,
      bodyLimitBytes: 1,
    });
    expect(documented.sort()).toEqual(servedRoutes(app).sort());
  });

  it('sends security headers whose CSP lets the same origin script, style and connect', async () => {
    const res = await api.call('GET', '/healthz');
    const csp = res.headers.get('content-security-policy') ?? '';
    const host = new URL(api.url).host;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('answers HEAD like GET without a body', async () => {
    const res = await api.call('HEAD', '/orders');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-event-position')).toMatch(/^\d+$/);
    expect(res.body).toBe('');
  });
});

describe('createHttpServer', () => {
  function slowServer(closeDeadlineMs: number) {
    const waiting: (() => void)[] = [];
    const server = createHttpServer(
      (req, res) => {
        if (req.url === '/slow') waiting.push(() => res.end('done'));
        else res.end('fast');
      },
      { host: '127.0.0.1', port: 0, log: createLogger('silent'), closeDeadlineMs },
    );
    return { server, waiting, url: () => server.url() };
  }

  it('stops accepting, lets the in-flight request finish, then resolves', async () => {
    const { server, waiting, url } = slowServer(10_000);
    await server.start();
    const base = url();
    expect(await (await fetch(`${base}/fast`)).text()).toBe('fast'); // leaves an idle keep-alive connection
    const inFlight = fetch(`${base}/slow`);
    await waitFor(() => waiting.length === 1, { what: 'the slow request to arrive' });
    let stopped = false;
    const stopping = server.stop().then(() => {
      stopped = true;
    });
    await expect(fetch(`${base}/fast`)).rejects.toThrow();
    expect(stopped).toBe(false);
    waiting[0]!();
    const res = await inFlight;
    expect(await res.text()).toBe('done');
    expect(res.headers.get('connection')).toBe('close');
    await stopping;
    expect(stopped).toBe(true);
    await server.stop(); // idempotent
  });

  it('cuts requests still open at the deadline', async () => {
    const { server, waiting, url } = slowServer(200);
    await server.start();
    const inFlight = fetch(`${url()}/slow`);
    await waitFor(() => waiting.length === 1, { what: 'the slow request to arrive' });
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await expect(inFlight).rejects.toThrow();
  });
});

/** "GET /orders/{id}" for every method of every route in the app's router, in OpenAPI notation. */
function servedRoutes(app: Express): string[] {
  interface Layer {
    route?: { path: unknown; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const walk = (stack: Layer[]): string[] =>
    stack.flatMap((layer) => {
      if (layer.handle?.stack) return walk(layer.handle.stack);
      const route = layer.route;
      // app.all() routes (the 405 answers) register every method: they are not endpoints.
      if (!route || typeof route.path !== 'string' || route.methods.acl) return [];
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      return Object.keys(route.methods)
        .filter((m) => m !== '_all')
        .map((m) => `${m.toUpperCase()} ${path}`);
    });
  return walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
}
