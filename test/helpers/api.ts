// The API under test: the real app on a real listener (port 0) over a test database's pool, a
// fetch wrapper that parses what comes back, and the stand-in for the bridge's numbering.

import { request as httpRequest } from 'node:http';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { type AccessConfig, type AppOptions, createApp } from '../../src/api/app.js';
import { createHttpServer } from '../../src/api/http-server.js';
import { NUMBER_SQL } from '../../src/bridge/relay.js';
import { loadConfig } from '../../src/config.js';
import { inTransaction } from '../../src/db/pool.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { TestDatabase } from './db.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON for JSON and problem+json bodies, the text otherwise ('' when empty). */
  // biome-ignore lint/suspicious/noExplicitAny: tests read bodies of every shape; assertions check them
  body: any;
}

export interface RunningApi {
  url: string;
  pool: pg.Pool;
  registry: Registry;
  call(
    method: string,
    path: string,
    init?: { json?: unknown; body?: string; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
  /** Stops the listener, then ends the pool. */
  close(): Promise<void>;
}

/** The app's access settings as the configuration's defaults make them (no tokens, the default rate limit). */
export const DEFAULT_ACCESS: AccessConfig = loadConfig({});

export async function startApi(
  db: TestDatabase,
  options: Partial<Omit<AppOptions, 'access'>> & { access?: Partial<AccessConfig>; log?: Logger } = {},
): Promise<RunningApi> {
  const pool = db.pool({ application_name: 'orders-live-api', max: 10 });
  const registry = new Registry();
  const log = options.log ?? createLogger('silent');
  const app = createApp({
    pool,
    log,
    registry,
    checks: [{ name: 'postgres', check: async () => void (await pool.query('SELECT 1')) }],
    bodyLimitBytes: 100 * 1024,
    ...options,
    access: { ...DEFAULT_ACCESS, ...options.access },
  });
  const http = createHttpServer(app, { host: '127.0.0.1', port: 0, log, closeDeadlineMs: 2_000 });
  await http.start();
  const url = `http://127.0.0.1:${http.address().port}`;
  return {
    url,
    pool,
    registry,
    async call(method, path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${url}${path}`, { method, headers, body });
      const text = await res.text();
      const isJson = /json/.test(res.headers.get('content-type') ?? '');
      return { status: res.status, headers: res.headers, body: isJson && text ? JSON.parse(text) : text };
    },
    async close() {
      await http.stop();
      await pool.end();
    },
  };
}

/**
 * A request with headers fetch will not send as given (Host) or a body of raw bytes (invalid
 * UTF-8): node:http, parsed like `call`.
 */
export async function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        const isJson = /json/.test(headers.get('content-type') ?? '');
        resolve({ status: res.statusCode ?? 0, headers, body: isJson && text ? JSON.parse(text) : text });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/**
 * Numbers every unnumbered event and marks it published, as the bridge leader does (its numbering
 * statement; positions continue bridge_state.last_position, one transaction). Returns how many it numbered.
 */
export function numberEvents(pool: pg.Pool): Promise<number> {
  return inTransaction(pool, assignPositions);
}

/** The statements of numberEvents, inside a transaction the caller holds. */
export async function assignPositions(client: pg.PoolClient): Promise<number> {
  // The bridge's own numbering statement, with batches as large as it allows…
  const { rows } = await client.query<{ first_position: string; last_position: string }>(NUMBER_SQL, [
    10_000,
    new Date().toISOString(),
  ]);
  // …and, as the bridge does once RabbitMQ confirmed them, raise the confirmed watermark.
  await client.query('UPDATE bridge_state SET confirmed_through = last_position WHERE id = 1');
  return rows.reduce((n, r) => n + Number(r.last_position) - Number(r.first_position) + 1, 0);
}

export const ISO_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
