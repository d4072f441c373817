// A web page on another origin, in real Chromium, against a server without tokens on loopback —
// the attack of a site the local user happens to visit. It opens the socket and asks for the
// whole change log (`since: 0`), reads GET /orders and sends a write that needs no preflight.
// A page of an origin in ALLOWED_ORIGINS does the same and gets through (CORS and the socket).

import { createServer, type Server } from 'node:http';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useExchange } from '../helpers/amqp.js';
import { useTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { type DashboardBrowser, openDashboard, requireChromium } from './browser.js';
import { startSystem, systemEnv, type TestSystem } from './system.js';

const db = useTestDatabase();
const exchange = useExchange();
let psql: pg.Pool;
let system: TestSystem;
let allowedSite: Server;
let foreignSite: Server;
let browser: DashboardBrowser;

/** What the visiting page found out, read back by the test. */
interface Findings {
  socket?: string;
  events: number;
  read?: string;
  write?: string;
}

/**
 * The page: a websocket to the server's Socket.IO path that sends the connect packet with
 * `since: 0` and counts the events it receives; a fetch of GET /orders; a simple (preflight-free)
 * POST with a text/plain JSON body.
 */
const PAGE = `<!doctype html><title>elsewhere</title><script>
const target = new URLSearchParams(location.search).get('target');
const found = (window.findings = { events: 0 });
const ws = new WebSocket(target.replace(/^http/, 'ws') + '/socket.io/?EIO=4&transport=websocket');
ws.onmessage = (m) => {
  const data = String(m.data);
  if (data.startsWith('0{')) { found.socket = 'open'; ws.send('40{"since":0}'); }
  else if (data === '2') ws.send('3');
  else if (data.startsWith('42["events"')) found.events += JSON.parse(data.slice(2))[1].length;
};
ws.onclose = () => { found.socket ??= 'refused'; };
fetch(target + '/orders').then((r) => r.json()).then((b) => { found.read = 'read ' + b.orders.length; },
  (e) => { found.read = 'blocked: ' + e.name; });
fetch(target + '/orders', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' },
  body: JSON.stringify({ customer_name: 'From elsewhere', product_name: 'x' }) })
  .then(() => { found.write = 'sent'; }, (e) => { found.write = 'failed: ' + e.name; });
</script>`;

beforeAll(async () => {
  requireChromium();
  psql = db.pool({ application_name: 'psql' });
  await psql.query(
    "INSERT INTO orders (customer_name, product_name) SELECT 'Customer ' || i, 'Secret' FROM generate_series(1, 3) i",
  );
  allowedSite = await serve(PAGE);
  foreignSite = await serve(PAGE);
  system = await startSystem(
    systemEnv(db, exchange, { ALLOWED_ORIGINS: `http://127.0.0.1:${port(allowedSite)}` }),
  );
  browser = await openDashboard('about:blank');
});

// Registered after useTestDatabase(), so it runs before the database's leak check.
afterAll(async () => {
  await browser?.close();
  await system?.stop();
  for (const site of [allowedSite, foreignSite]) await new Promise((resolve) => site?.close(resolve));
  await psql?.end();
});

async function visit(site: Server): Promise<Findings> {
  const { page } = browser;
  await page.goto(`http://127.0.0.1:${port(site)}/?target=${encodeURIComponent(system.url)}`);
  const read = () => page.evaluate(() => (globalThis as unknown as { findings: Findings }).findings);
  await waitFor(
    async () => {
      const f = await read();
      return f.socket !== undefined && f.read !== undefined && f.write !== undefined;
    },
    { what: 'the page to finish its attempts' },
  );
  return read();
}

describe('a page of another origin, no tokens configured', () => {
  it('can neither open the socket, nor read orders, nor write one', async () => {
    const refusedBefore = await refusedPosts();
    const findings = await visit(foreignSite);
    expect(findings).toMatchObject({ socket: 'refused', events: 0, read: 'blocked: TypeError' });
    // A no-cors request shows the page nothing either way: Chromium resolves it opaque or, as the
    // answer says Cross-Origin-Resource-Policy: same-origin, fails it.
    expect(['sent', 'failed: TypeError']).toContain(findings.write);
    // The write reached the server, which refused it for its origin: nothing was stored.
    await waitFor(async () => (await refusedPosts()) === refusedBefore + 1, {
      what: 'the server to count the refused POST',
    });
    const { rows } = await psql.query(
      "SELECT count(*)::int AS n FROM orders WHERE customer_name = 'From elsewhere'",
    );
    expect(rows[0].n).toBe(0);
  });
});

describe('a page of an origin in ALLOWED_ORIGINS', () => {
  it('follows the change log over the socket and reads orders through CORS', async () => {
    const { page } = browser;
    expect(await visit(allowedSite)).toMatchObject({ socket: 'open', read: 'read 3' });
    await waitFor(
      async () =>
        (await page.evaluate(() => (globalThis as unknown as { findings: Findings }).findings.events)) >= 3,
      { what: 'the three seeded events over the socket' },
    );
  });
});

/** POSTs the server answered 403 (a refused origin), from its own metrics. */
async function refusedPosts(): Promise<number> {
  const metrics = await (await fetch(`${system.url}/metrics`)).text();
  // Refused before any route matched: the series of unmatched requests.
  const line = /^http_requests_total\{method="POST",route="unmatched",status="403"\} (\d+)$/m.exec(metrics);
  return Number(line?.[1] ?? 0);
}

function serve(html: string): Promise<Server> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(html);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function port(server: Server): number {
  return (server.address() as { port: number }).port;
}
