// The API under test: the real app on a real listener (port 0) over a test database's pool, a
// fetch wrapper that parses what comes back, and the stand-in for the bridge's numbering.

import type pg from 'pg';
import { Registry } from 'prom-client';
import { type AppOptions, createApp } from '../../src/api/app.js';
import { createHttpServer } from '../../src/api/http-server.js';
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

export async function startApi(
  db: TestDatabase,
  options: Partial<AppOptions> & { log?: Logger } = {},
): Promise<RunningApi> {
  const pool = db.pool({ application_name: 'orders-live-api', max: 10 });
  const registry = new Registry();
  const log = options.log ?? createLogger('silent');
  const app = createApp({
    pool,
    log,
    registry,
    checks: [{ name: 'postgres', check: async () => void (await pool.query('SELECT 1')) }],
    tokens: [],
    bodyLimitBytes: 100 * 1024,
    ...options,
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
 * Numbers every unnumbered event in id order and marks it published, as the bridge leader does
 * (positions continue bridge_state.last_position, one transaction). Returns how many it numbered.
 */
export async function numberEvents(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const numbered = await assignPositions(client);
    await client.query('COMMIT');
    return numbered;
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  } finally {
    client.release();
  }
}

/** The statements of numberEvents, inside a transaction the caller holds. */
export async function assignPositions(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ last_position: string }>(
    'SELECT last_position FROM bridge_state WHERE id = 1 FOR UPDATE',
  );
  const { rowCount } = await client.query(
    `UPDATE order_events e SET position = $1::bigint + n.rank, published_at = now()
     FROM (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM order_events WHERE position IS NULL) n
     WHERE e.id = n.id`,
    [rows[0]!.last_position],
  );
  // …and, as the bridge does once RabbitMQ confirmed them, raise the confirmed watermark.
  await client.query(
    'UPDATE bridge_state SET last_position = last_position + $1, confirmed_through = last_position + $1 WHERE id = 1',
    [rowCount ?? 0],
  );
  return rowCount ?? 0;
}

export const ISO_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
