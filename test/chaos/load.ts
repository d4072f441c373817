// The writer load: about `rate` changes per second for `durationMs`, half as direct SQL (as psql
// would), half through the REST API of whichever gateway answers. Every change whose commit was
// confirmed is remembered as `order_id:version:op`, so the log can be checked against it.

import type pg from 'pg';
import { waitFor } from '../helpers/wait.js';
import type { Observer } from './observer.js';

export interface LoadResult {
  committed: Set<string>;
  sql: number;
  api: number;
  failed: number;
  /** API writes answered 429: RATE_LIMIT's default must leave this load alone. */
  rateLimited: number;
}

/**
 * When a fault goes in: once `fraction` of the load's time has passed since `started()` and
 * events are flowing to the observers.
 */
export function loadProgress(
  loadMs: number,
  observers: readonly Observer[],
  started: () => number,
): (fraction: number) => Promise<void> {
  return async (fraction) => {
    await waitFor(
      () => Date.now() - started() >= fraction * loadMs && observers.some((o) => o.stats.received >= 100),
      { timeoutMs: loadMs + 30_000, what: `${Math.round(fraction * 100)}% of the load, events flowing` },
    );
  };
}

export async function runLoad(options: {
  pool: pg.Pool;
  apiUrls: () => string[];
  rate: number;
  durationMs: number;
  signal?: AbortSignal;
}): Promise<LoadResult> {
  const { pool, rate, durationMs } = options;
  const result: LoadResult = { committed: new Set(), sql: 0, api: 0, failed: 0, rateLimited: 0 };
  const ids: number[] = [];
  const started = performance.now();
  const WORKERS = 8;
  const perWorker = rate / WORKERS;

  async function sqlChange(): Promise<void> {
    const roll = Math.random();
    if (ids.length < 50 || roll < 0.3) {
      const { rows } = await pool.query(
        "INSERT INTO orders (customer_name, product_name) VALUES ('chaos', 'load') RETURNING id, version",
      );
      ids.push(Number(rows[0].id));
      result.committed.add(`${rows[0].id}:${rows[0].version}:insert`);
    } else if (roll < 0.93) {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const status = ['pending', 'processing', 'shipped', 'delivered', 'cancelled'][
        Math.floor(Math.random() * 5)
      ];
      const { rows } = await pool.query(
        'UPDATE orders SET status = $2, customer_name = $3 WHERE id = $1 RETURNING id, version',
        [id, status, `chaos ${Math.random().toString(36).slice(2, 8)}`],
      );
      if (rows[0]) result.committed.add(`${rows[0].id}:${rows[0].version}:update`);
    } else {
      const id = ids.splice(Math.floor(Math.random() * ids.length), 1)[0]!;
      const { rows } = await pool.query('DELETE FROM orders WHERE id = $1 RETURNING id, version', [id]);
      if (rows[0]) result.committed.add(`${rows[0].id}:${rows[0].version + 1}:delete`);
    }
    result.sql++;
  }

  const apiError = (method: string, status: number) =>
    Object.assign(new Error(`${method} ${status}`), { status });

  async function apiChange(): Promise<void> {
    const urls = options.apiUrls();
    const url = urls[Math.floor(Math.random() * urls.length)]!;
    const headers = { 'content-type': 'application/json' };
    if (ids.length < 50 || Math.random() < 0.3) {
      const res = await fetch(`${url}/orders`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ customer_name: 'api chaos', product_name: 'load' }),
      });
      if (res.status !== 201) throw apiError('POST', res.status);
      const order = (await res.json()) as { id: number; version: number };
      ids.push(order.id);
      result.committed.add(`${order.id}:${order.version}:insert`);
    } else {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const res = await fetch(`${url}/orders/${id}`, {
        method: 'PATCH',
        headers,
        body: JSON.stringify({ customer_name: `api ${Math.random().toString(36).slice(2, 8)}` }),
      });
      if (res.status === 404) return; // deleted meanwhile by the SQL half
      if (res.status !== 200) throw apiError('PATCH', res.status);
      const order = (await res.json()) as { id: number; version: number };
      result.committed.add(`${order.id}:${order.version}:update`);
    }
    result.api++;
  }

  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      const change = w % 2 === 0 ? sqlChange : apiChange;
      for (let n = 0; ; n++) {
        // Bounded by the clock: a worker that falls behind (a fault, a busy machine) writes less,
        // it does not run longer.
        if (options.signal?.aborted || performance.now() - started > durationMs) return;
        const due = started + (n * 1000) / perWorker;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        try {
          await change();
        } catch (e) {
          // A write refused or cut off by the fault: not confirmed, so not expected in the log.
          result.failed++;
          if ((e as { status?: number }).status === 429) result.rateLimited++;
        }
      }
    }),
  );
  return result;
}
