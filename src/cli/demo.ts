// `orders-live demo`: realistic order traffic for trying the system — new orders, status
// progressions pending → processing → shipped → delivered, some cancellations and deletions —
// half through the REST API, half as direct SQL (as an operator in psql would), at a steady rate.

import type pg from 'pg';
import type { OrderStatus } from '../contract/events.js';
import { createPool } from '../db/pool.js';
import { createLogger } from '../log.js';

export interface DemoOptions {
  databaseUrl: string;
  apiUrl: string;
  token?: string;
  /** Changes per second. */
  rate: number;
  durationS: number;
  /** Orders created before the timed run when the table has fewer. */
  orders: number;
  progress: (line: string, final: boolean) => void;
}

/** Changes of the timed run (the orders created first are counted apart, as `seeded`). */
export interface DemoResult {
  api: number;
  sql: number;
  failed: number;
  seeded: number;
}

const CUSTOMERS = [
  'Harry',
  'Amelia',
  'Noah',
  'Olivia',
  'Leo',
  'Isla',
  'Oscar',
  'Ava',
  'Arthur',
  'Mia',
  'Yusuf',
  'Chen',
];
const PRODUCTS = [
  'iPhone 17',
  'Pixel 10',
  'MacBook Air',
  'ThinkPad X1',
  'Kindle',
  'AirPods Pro',
  'Switch 2',
  'Galaxy Tab',
];
const NEXT: Partial<Record<OrderStatus, OrderStatus>> = {
  pending: 'processing',
  processing: 'shipped',
  shipped: 'delivered',
};

type Change = { kind: 'create' } | { kind: 'advance' | 'cancel' | 'delete'; id: number; status: OrderStatus };

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** One run's state: the orders still open (changes pick among them) and what was done. */
interface DemoRun {
  options: DemoOptions;
  pool: pg.Pool;
  open: Map<number, OrderStatus>;
  result: DemoResult;
}

export async function runDemo(options: DemoOptions, signal: AbortSignal): Promise<DemoResult> {
  const pool = createPool(options.databaseUrl, {
    applicationName: 'orders-live-demo',
    max: 4,
    log: createLogger('silent'),
  });
  const run: DemoRun = { options, pool, open: new Map(), result: { api: 0, sql: 0, failed: 0, seeded: 0 } };
  try {
    run.open = await openOrders(pool);
    await seed(run, signal);
    await changeAtRate(run, signal);
    return run.result;
  } finally {
    await pool.end();
  }
}

/** Creates orders until `options.orders` are open, half through the API, half through SQL. */
async function seed(run: DemoRun, signal: AbortSignal): Promise<void> {
  const { result } = run;
  for (let i = run.open.size; i < run.options.orders && !signal.aborted; i++)
    await apply(run, { kind: 'create' }, i % 2 === 0);
  result.seeded = result.api + result.sql;
  Object.assign(result, { api: 0, sql: 0, failed: 0 });
  if (result.seeded > 0) run.options.progress(`demo: created ${result.seeded} orders to start from`, true);
}

async function changeAtRate(run: DemoRun, signal: AbortSignal): Promise<void> {
  const { options, result } = run;
  const total = Math.round(options.rate * options.durationS);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  for (let n = 0; n < total && !signal.aborted; n++) {
    // Paced against the clock, not by sleeping a fixed time after each change.
    const due = started + (n * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    await apply(run, nextChange(run.open), n % 2 === 0);
    if ((n + 1) % Math.max(1, Math.round(options.rate / 4)) === 0)
      options.progress(progressLine(total, result, elapsed()), false);
  }
  options.progress(progressLine(total, result, elapsed(), signal.aborted), true);
}

async function apply(
  { options, pool, open, result }: DemoRun,
  change: Change,
  viaApi: boolean,
): Promise<void> {
  try {
    const id = viaApi ? await applyApi(options, change) : await applySql(pool, change);
    if (change.kind === 'create' && id) open.set(id, 'pending');
    if (change.kind === 'advance' || change.kind === 'cancel') {
      const status = change.kind === 'cancel' ? 'cancelled' : NEXT[change.status]!;
      if (status === 'delivered' || status === 'cancelled') open.delete(change.id);
      else open.set(change.id, status);
    }
    if (change.kind === 'delete') open.delete(change.id);
    result[viaApi ? 'api' : 'sql']++;
  } catch {
    result.failed++;
  }
}

async function applyApi(options: DemoOptions, change: Change): Promise<number | undefined> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const request = (method: string, path: string, body?: unknown) =>
    fetch(`${options.apiUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (res) => {
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
      return res.status === 204 ? undefined : ((await res.json()) as { id: number });
    });
  if (change.kind === 'create')
    return (
      await request('POST', '/orders', { customer_name: pick(CUSTOMERS), product_name: pick(PRODUCTS) })
    )?.id;
  if (change.kind === 'delete') return void (await request('DELETE', `/orders/${change.id}`));
  const status = change.kind === 'cancel' ? 'cancelled' : NEXT[change.status];
  return void (await request('PATCH', `/orders/${change.id}`, { status }));
}

async function applySql(pool: pg.Pool, change: Change): Promise<number | undefined> {
  if (change.kind === 'create') {
    const { rows } = await pool.query(
      'INSERT INTO orders (customer_name, product_name) VALUES ($1, $2) RETURNING id',
      [pick(CUSTOMERS), pick(PRODUCTS)],
    );
    return Number(rows[0].id);
  }
  if (change.kind === 'delete')
    return void (await pool.query('DELETE FROM orders WHERE id = $1', [change.id]));
  const status = change.kind === 'cancel' ? 'cancelled' : NEXT[change.status];
  return void (await pool.query('UPDATE orders SET status = $2 WHERE id = $1', [change.id, status]));
}

/** Mostly progressions; new orders keep the pool of open ones filled; a few cancels and deletes. */
function nextChange(open: Map<number, OrderStatus>): Change {
  const roll = Math.random();
  if (open.size < 10 || roll < 0.25) return { kind: 'create' };
  const [id, status] = pick([...open.entries()]);
  if (roll < 0.31) return { kind: 'cancel', id, status };
  if (roll < 0.35) return { kind: 'delete', id, status };
  return { kind: 'advance', id, status };
}

async function openOrders(pool: pg.Pool): Promise<Map<number, OrderStatus>> {
  const { rows } = await pool.query<{ id: string; status: OrderStatus }>(
    "SELECT id, status FROM orders WHERE status IN ('pending', 'processing', 'shipped') ORDER BY id DESC LIMIT 1000",
  );
  return new Map(rows.map((r) => [Number(r.id), r.status]));
}

/** `demo: 314/600 changes (157 api, 157 sql, 0 failed), 20/s`: what was done, not what was planned. */
export function progressLine(total: number, result: DemoResult, seconds: number, stopped = false): string {
  const done = result.api + result.sql + result.failed;
  // Under a second the rate says more about start-up than about the run.
  const rate = seconds >= 1 ? `, ${Math.round(done / seconds)}/s` : '';
  return `demo: ${done}/${total} changes (${result.api} api, ${result.sql} sql, ${result.failed} failed)${rate}${stopped ? ', stopped' : ''}`;
}
