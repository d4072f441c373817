// `npm run screenshot`: docs/dashboard.png, the dashboard as an operator sees it, and
// docs/dashboard-history.png, one order's history panel open. Builds the page, runs the whole
// system on its own database (orders_live_screenshot, recreated) and a random exchange, writes
// demo orders, opens the page in headless Chromium, sends 45 s of changing traffic (so the live
// chart has a shape) and a few live changes through the API and through "psql", and captures the
// result. Cleans up after itself.

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import pg from 'pg';
import { amqpNames } from '../src/contract/events.js';
import { openDashboard } from '../test/e2e/browser.js';
import { waitFor } from '../test/helpers/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUTPUT = `${ROOT}docs/dashboard.png`;
const HISTORY_OUTPUT = `${ROOT}docs/dashboard-history.png`;
/** Traffic before the shots: 150 ticks of 300 ms, 45 s of the chart's 3 minutes. */
const TRAFFIC_TICKS = 150;
const TICK_MS = 300;
/** The order whose history is shown: traffic leaves it (and the deleted #20) alone. */
const STORY_ORDER = 5;
const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const RABBITMQ_URL = process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const DATABASE = 'orders_live_screenshot';
const EXCHANGE = `screenshot.${randomBytes(4).toString('hex')}.orders.events`;

const CUSTOMERS = ['Harry Kane', 'Amelia Hart', 'Noah Berg', 'Olivia Chen', 'Leo Novak', 'Isla Moreau'];
const MORE_CUSTOMERS = ['Oscar Silva', 'Ava Lindqvist', 'Arthur Okafor', 'Mia Rossi', 'Yusuf Demir'];
const PRODUCTS = ['iPhone 17', 'Pixel 10', 'MacBook Air 15"', 'ThinkPad X1', 'Kindle Scribe', 'AirPods Pro'];
const STATUSES = ['pending', 'processing', 'shipped', 'delivered', 'cancelled'];

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** `orders-live start` on a free port; resolves with its URL once it logged "orders-live started". */
async function startSystem() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start', '--port', '0'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl(DATABASE),
      RABBITMQ_URL,
      AMQP_EXCHANGE: EXCHANGE,
      HOST: '127.0.0.1',
      API_TOKENS: '',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let url: string | undefined;
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (const line of buffered.split('\n').slice(0, -1)) {
      if (line.includes('"orders-live started"')) url = (JSON.parse(line) as { url: string }).url;
    }
    buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
  });
  const exited = once(child, 'exit');
  await Promise.race([
    waitFor(() => url, { timeoutMs: 60_000, what: 'orders-live started' }),
    exited.then(() => Promise.reject(new Error('orders-live exited before it started'))),
  ]);
  return {
    url: url!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function seed(sql: pg.Pool): Promise<void> {
  const rows: string[] = [];
  for (let i = 0; i < 36; i++) {
    const customer = CUSTOMERS[i % CUSTOMERS.length]!;
    const product = PRODUCTS[(i * 7) % PRODUCTS.length]!;
    const status = STATUSES[Math.min(4, Math.floor(((i * 37) % 100) / 21))]!;
    rows.push(`(${pg.escapeLiteral(customer)}, ${pg.escapeLiteral(product)}, '${status}')`);
  }
  await sql.query(`INSERT INTO orders (customer_name, product_name, status) VALUES ${rows.join(', ')}`);
}

function post(api: string, body: object): Promise<Response> {
  return fetch(`${api}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function patch(api: string, id: number, body: object): Promise<Response> {
  return fetch(`${api}/orders/${id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * Status changes rising and falling in waves (1 to ~30 events a tick): a bulk UPDATE in psql on
 * even ticks, two API calls on odd ones. Returns how many events psql's updates caused (the
 * chart's bars add up to more).
 */
async function traffic(api: string, sql: pg.Pool): Promise<number> {
  const ids = Array.from({ length: 36 }, (_, i) => i + 1).filter((id) => id !== STORY_ORDER && id !== 20);
  let events = 0;
  for (let tick = 0; tick < TRAFFIC_TICKS; tick++) {
    const next = new Promise((resolve) => setTimeout(resolve, TICK_MS));
    const status = STATUSES[tick % STATUSES.length]!;
    if (tick % 2 === 0) {
      const count = Math.round(15 + 14 * Math.sin(tick / 12));
      const chosen = Array.from({ length: count }, (_, i) => ids[(tick * 7 + i) % ids.length]!);
      const result = await sql.query('UPDATE orders SET status = $1 WHERE id = ANY($2) AND status <> $1', [
        status,
        chosen,
      ]);
      events += result.rowCount ?? 0;
    } else {
      for (const id of [ids[tick % ids.length]!, ids[(tick * 5) % ids.length]!])
        await patch(api, id, { status });
    }
    await next;
  }
  return events;
}

/** A minute of an ordinary morning, compressed: API clients and an operator in psql. */
async function liveChanges(api: string, sql: pg.Pool): Promise<void> {
  for (const [i, customer] of MORE_CUSTOMERS.entries())
    await post(api, { customer_name: customer, product_name: PRODUCTS[i % PRODUCTS.length] });
  await patch(api, 3, { status: 'shipped' });
  // The story of one order, for its history: API and psql, status and names.
  await patch(api, STORY_ORDER, { status: 'processing' });
  await sql.query('UPDATE orders SET product_name = $1 WHERE id = $2', ['Pixel 10 Pro', STORY_ORDER]);
  await patch(api, STORY_ORDER, { customer_name: 'Amelia Hartley', status: 'shipped' });
  await sql.query("UPDATE orders SET status = 'delivered' WHERE id IN (2, 9)");
  await sql.query("UPDATE orders SET status = 'cancelled' WHERE id = 14");
  await sql.query("UPDATE orders SET customer_name = 'Noah Bergström' WHERE id = 15");
  await sql.query('DELETE FROM orders WHERE id = 20');
  await patch(api, 1, { status: 'processing' });
  await sql.query("UPDATE orders SET status = 'shipped' WHERE id = 6");
}

async function main(): Promise<void> {
  execFileSync('npx', ['vite', 'build', 'web', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  await admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  const system = await startSystem();
  const sql = new pg.Pool({ connectionString: databaseUrl(DATABASE), application_name: 'psql', max: 2 });
  let browser: Awaited<ReturnType<typeof openDashboard>> | undefined;
  try {
    await seed(sql);
    browser = await openDashboard(system.url);
    const { page } = browser;
    await page.waitForSelector('[data-testid="connection"][data-state="live"]', { timeout: 30_000 });
    await page.waitForSelector('tr[data-order-id="36"]', { timeout: 10_000 });
    // Latest activity first: the rows just changed are on top, still flashing.
    await page.click('button[data-sort="updated_at"]');
    const events = await traffic(system.url, sql);
    // The chart draws a second once it is over: wait until it has drawn the traffic.
    await waitFor(
      async () => Number(await page.getAttribute('[data-testid="chart"]', 'data-events')) >= events,
      { timeoutMs: 10_000, what: 'the chart to draw the traffic' },
    );
    await liveChanges(system.url, sql);
    await page.waitForSelector('[data-testid="feed-item"][data-order-id="6"][data-op="update"]', {
      timeout: 10_000,
    });
    await page.waitForSelector('tr[data-order-id="6"][data-status="shipped"]');
    mkdirSync(`${ROOT}docs`, { recursive: true });
    await page.screenshot({ path: OUTPUT });
    console.log(`wrote ${OUTPUT}`);
    await page.click(`tr[data-order-id="${STORY_ORDER}"] button[data-action="history"]`);
    await page.waitForSelector('[data-testid="history-entry"][data-op="insert"]', { timeout: 10_000 });
    await page.screenshot({ path: HISTORY_OUTPUT });
    console.log(`wrote ${HISTORY_OUTPUT}`);
    if (browser.external.length > 0) throw new Error(`the page loaded ${browser.external.join(', ')}`);
    if (browser.errors.length > 0) throw new Error(`the page failed: ${browser.errors.join('; ')}`);
  } finally {
    await browser?.close();
    await sql.end();
    await system.stop();
    await cleanUp();
  }
}

async function cleanUp(): Promise<void> {
  const connection = await amqp.connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    const names = amqpNames(EXCHANGE);
    await channel.deleteQueue(names.deadLetterQueue);
    await channel.deleteExchange(names.deadLetterExchange);
    await channel.deleteExchange(names.exchange);
  } finally {
    await connection.close();
  }
  await admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
