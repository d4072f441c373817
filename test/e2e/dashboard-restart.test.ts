// The dashboard across a restart of the system it talks to (docs/design.md, invariant 6 from the
// page's side), on a server with API tokens: it asks for the token before it shows anything,
// then, when the process serving it is stopped and started again on the same port, shows
// reconnecting, resumes after its last position and shows what changed meanwhile, without a
// reload; and when the server cannot resume its position (resync), it reloads the snapshot.

import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import {
  feedPositions,
  type PageGlobals,
  recordedStates,
  recordStates,
  rowSelector,
  rowsInDom,
  storedToken,
  waitForState,
} from './dashboard-page.js';
import { orderRows, startSystem, useDashboard } from './system.js';

const TOKEN = 'e2e-operator-token-0123456789';

const dash = useDashboard({
  env: { API_TOKENS: `operator:${TOKEN}` },
  seed: "INSERT INTO orders (customer_name, product_name) SELECT 'Customer ' || i, 'Product' FROM generate_series(1, 10) i",
});

const dbRows = () => orderRows(dash.psql);

/** The last position, once the bridge has numbered every event written so far. */
async function lastPosition(): Promise<number> {
  await waitFor(
    async () => (await dash.psql.query('SELECT 1 FROM order_events_unnumbered() LIMIT 1')).rowCount === 0,
    { what: 'the bridge to number every event' },
  );
  const { rows } = await dash.psql.query('SELECT last_position::int AS p FROM bridge_state');
  return rows[0].p;
}

describe('the dashboard with API tokens', () => {
  it('asks for a token, shows nothing without one, and goes live once it is entered', async () => {
    const { page } = dash.browser;
    await waitForState(page, 'unauthorized');
    await page.waitForSelector('[data-testid="token-hint"]:visible');
    expect((await rowsInDom(page)).length).toBe(0); // reading orders needs a token too
    await page.fill('[data-testid="token"]', TOKEN);
    await page.press('[data-testid="token"]', 'Enter');
    await waitForState(page, 'live');
    expect((await rowsInDom(page)).length).toBe(10);
    expect(await storedToken(page)).toBe(TOKEN);
  });

  it('answers a write without token with the 401 and points at the token field', async () => {
    const { page } = dash.browser;
    await page.fill('[data-testid="token"]', '');
    await page.press('[data-testid="token"]', 'Enter');
    await page.click('summary:has-text("New order")');
    await page.fill('#new-customer', 'No Token');
    await page.fill('#new-product', 'Anything');
    await page.click('[data-testid="create-form"] button[type="submit"]');
    const error = page.locator('[data-testid="api-error"]');
    await error.waitFor({ state: 'visible', timeout: 5_000 });
    expect(await error.getAttribute('data-status')).toBe('401');
    expect(await page.getAttribute('[data-testid="token"]', 'aria-invalid')).toBe('true');

    await page.fill('[data-testid="token"]', TOKEN);
    await page.press('[data-testid="token"]', 'Enter');
    await page.click('[data-testid="create-form"] button[type="submit"]');
    await page.locator('[data-testid="orders-body"] tr', { hasText: 'No Token' }).waitFor({ timeout: 5_000 });
    await page.waitForSelector('[data-testid="feed-item"][data-source="api"]');
  });

  it('resumes after the system restarts on the same port, with the changes made while it was down', async () => {
    const { page } = dash.browser;
    await waitForState(page, 'live');
    await page.evaluate(() => {
      (globalThis as unknown as PageGlobals).stillTheSamePage = true;
    });
    const positionBefore = Number(await page.getAttribute('[data-testid="position"]', 'data-position'));
    await recordStates(page);

    await dash.system.stop();
    await waitForState(page, 'reconnecting', 10_000);

    // Written while nothing reads the log: the page must still get every one of them.
    await dash.psql.query("UPDATE orders SET status = 'shipped' WHERE id IN (1, 2, 3)");
    await dash.psql.query("INSERT INTO orders (customer_name, product_name) VALUES ('While Down', 'Resume')");
    await dash.psql.query('DELETE FROM orders WHERE id = 4');
    await dash.psql.query("UPDATE orders SET status = 'delivered' WHERE id = 1");

    dash.system = await startSystem(dash.env(), dash.system.port);
    await waitForState(page, 'live', 30_000);
    await page.waitForSelector(rowSelector(1, { status: 'delivered', version: 3 }), { timeout: 10_000 });
    await page.waitForSelector(rowSelector(4), { state: 'detached' });
    await waitFor(async () => JSON.stringify(await rowsInDom(page)) === JSON.stringify(await dbRows()), {
      timeoutMs: 10_000,
      what: 'the table to match the database',
    });

    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).stillTheSamePage)).toBe(true);
    // Each change arrived once, in order, after where the page stood: 3 + 1 + 1 + 1 events.
    const positions = await feedPositions(page);
    const after = positions.filter((p) => p > positionBefore);
    expect(after).toEqual([...after].sort((a, b) => b - a));
    expect(new Set(after).size).toBe(after.length);
    expect(after.length).toBe(6);
    expect(after.at(-1)).toBe(positionBefore + 1);
    const states = await recordedStates(page);
    expect(states[0]).toBe('reconnecting');
    expect(states.slice(-2)).toEqual(['replaying', 'live']);
    expect(states).not.toContain('resyncing');
  });

  it('reloads the snapshot when the server cannot resume its position (resync)', async () => {
    const { page } = dash.browser;
    await waitForState(page, 'live');
    await page.evaluate(() => {
      (globalThis as unknown as PageGlobals).stillTheSamePage = true;
    });
    await recordStates(page);
    await dash.system.stop();
    await waitForState(page, 'reconnecting', 10_000);
    // The database is restored from a backup taken before the page's position: the log and the
    // position counter start over, so the page's `since` is unknown to the server.
    await dash.psql.query('TRUNCATE order_events, order_event_batches');
    await dash.psql.query(
      'UPDATE bridge_state SET last_position = 0, confirmed_through = 0, events_confirmed_through = 0',
    );
    await dash.psql.query("UPDATE orders SET status = 'cancelled' WHERE id = 5");
    await dash.psql.query(
      "INSERT INTO orders (customer_name, product_name) VALUES ('After Restore', 'Snapshot')",
    );

    dash.system = await startSystem(dash.env(), dash.system.port);
    await waitForState(page, 'live', 30_000);
    await waitFor(async () => JSON.stringify(await rowsInDom(page)) === JSON.stringify(await dbRows()), {
      timeoutMs: 10_000,
      what: 'the table to match the restored database',
    });
    await page.waitForSelector(`[data-testid="position"][data-position="${await lastPosition()}"]`, {
      timeout: 5_000,
    });
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).stillTheSamePage)).toBe(true);
    const states = await recordedStates(page);
    expect(states).toContain('resyncing');
    expect(states.at(-1)).toBe('live');
  });

  it('loaded nothing from outside and raised no page error', () => {
    expect(dash.browser.external).toEqual([]);
    expect(dash.browser.errors).toEqual([]);
  });
});
