// An order's history on the dashboard, against the whole system: a row opens the panel with the
// API's pages (newest first, each change with its source, actor and before → after); a change in
// psql joins the open panel live, once; one that arrives while the first page is still loading
// is shown once; "Load older changes" pages back to the creation; a deleted order shows its delete,
// live and when opened from the feed; the keyboard opens and closes it and focus comes back.

import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { accessibleControl, rowSelector, text } from './dashboard-page.js';
import { ENTRY, hasFocus, historyEntries, historyInApi, PANEL } from './history-panel.js';
import { useDashboard } from './system.js';

/** web/src/order-history-panel.ts HISTORY_PAGE_LIMIT */
const PAGE = 25;

const dash = useDashboard({
  seed: "INSERT INTO orders (customer_name, product_name) SELECT 'Customer ' || i, 'Product ' || i FROM generate_series(1, 6) i",
  live: true,
});

beforeAll(async () => {
  await dash.browser.page.waitForSelector(rowSelector(6));
});

const historyButton = (id: number) => `${rowSelector(id)} button[data-action="history"]`;

/** Writes as an operator in psql; resolves once the page's row shows the new version. */
async function changeInPsql(id: number, set: string): Promise<number> {
  const { rows } = await dash.psql.query<{ version: number }>(
    `UPDATE orders SET ${set} WHERE id = $1 RETURNING version`,
    [id],
  );
  await dash.browser.page.waitForSelector(rowSelector(id, { version: rows[0]!.version }), { timeout: 5_000 });
  return rows[0]!.version;
}

async function positionsShown(): Promise<number[]> {
  return (await historyEntries(dash.browser.page)).map((entry) => entry.position);
}

/** Waits until the panel shows exactly the history the API has for order `id`. */
async function expectWholeHistory(id: number, count: number): Promise<void> {
  await waitFor(async () => (await dash.browser.page.locator(ENTRY).count()) === count, {
    what: `${count} entries in the panel`,
  });
  expect(await positionsShown()).toEqual(await historyInApi(dash.system.url, id));
}

async function closeWith(key: 'Escape' | 'button'): Promise<void> {
  const { page } = dash.browser;
  if (key === 'Escape') await page.keyboard.press('Escape');
  else await page.click('[data-testid="history-close"]');
  await page.waitForSelector(PANEL, { state: 'hidden' });
}

describe('the history panel', () => {
  it("opens on a click on a row with the order's history, newest first, as the API has it", async () => {
    const { page } = dash.browser;
    const patched = await fetch(`${dash.system.url}/orders/1`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'if-match': '"1"' },
      body: JSON.stringify({ status: 'processing' }),
    });
    expect(patched.status).toBe(200);
    await page.waitForSelector(rowSelector(1, { version: 2 }));
    await page.click(`${rowSelector(1)} td.text >> nth=0`);
    await page.waitForSelector(PANEL, { state: 'visible' });
    expect(await hasFocus(page, '[data-testid="history-title"]')).toBe(true);
    expect((await accessibleControl(page, PANEL)).name).toBe('History of order #1');
    await expectWholeHistory(1, 2);
    const [update, insert] = await historyEntries(page);
    expect(update).toMatchObject({ op: 'update', source: 'api', badge: 'API' });
    expect(update!.fields).toEqual({ status: { before: 'pending', after: 'processing' } });
    expect(insert).toMatchObject({ op: 'insert', source: 'sql', badge: 'SQL', actor: 'by postgres/psql' });
    expect(insert!.fields).toEqual({
      customer_name: { after: 'Customer 1' },
      product_name: { after: 'Product 1' },
      status: { after: 'pending' },
    });
    expect(await text(page, 'history-state')).toContain('Customer 1 · Product 1 · processing, version 2');
  });

  it('adds a change made in psql to the open panel, once, and announces it', async () => {
    const { page } = dash.browser;
    await changeInPsql(1, "status = 'shipped', customer_name = 'Ann Changed'");
    await expectWholeHistory(1, 3);
    const [newest] = await historyEntries(page);
    expect(newest).toMatchObject({ op: 'update', source: 'sql', badge: 'SQL', actor: 'by postgres/psql' });
    expect(newest!.fields).toEqual({
      customer_name: { before: 'Customer 1', after: 'Ann Changed' },
      status: { before: 'processing', after: 'shipped' },
    });
    expect(await text(page, 'history-announce')).toBe(
      'New: Changed via SQL by postgres/psql: customer Customer 1 to Ann Changed, status processing to shipped',
    );
    await closeWith('button');
    expect(await hasFocus(page, historyButton(1))).toBe(true); // back to the row it was opened from
  });

  it('shows a change that arrives while the first page is loading once', async () => {
    const { page } = dash.browser;
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The page's request waits in the browser until the change has reached the panel live.
    await page.route('**/orders/2/events*', async (route) => {
      await released;
      await route.continue();
    });
    try {
      await page.click(historyButton(2));
      await page.waitForSelector(`${PANEL} [data-testid="history-status"]:has-text("Loading the history")`);
      await changeInPsql(2, "status = 'cancelled'");
      await page.waitForSelector(`${ENTRY}[data-op="update"]`);
      release();
      await expectWholeHistory(2, 2); // the page holds the update too: still one entry for it
    } finally {
      release();
      await page.unroute('**/orders/2/events*');
    }
    await closeWith('Escape');
  });

  it('pages back with "Load older changes" to the creation of an order with more changes than a page', async () => {
    const { page } = dash.browser;
    await dash.psql.query(
      `DO $$ BEGIN FOR i IN 1..30 LOOP UPDATE orders SET customer_name = 'Name ' || i WHERE id = 3; END LOOP; END $$`,
    );
    await page.waitForSelector(rowSelector(3, { version: 31 }), { timeout: 5_000 });
    await page.click(historyButton(3));
    await waitFor(async () => (await page.locator(ENTRY).count()) === PAGE, { what: 'the first page' });
    expect(await page.isVisible('[data-testid="history-end"]')).toBe(false);
    await page.click('[data-testid="history-older"]');
    await expectWholeHistory(3, 31);
    expect((await historyEntries(page)).at(-1)?.op).toBe('insert');
    await page.waitForSelector('[data-testid="history-older"]', { state: 'hidden' });
    // The button is gone: focus is on the note that takes its place, not lost to the page.
    expect(await hasFocus(page, '[data-testid="history-end"]')).toBe(true);
    await closeWith('Escape');
  });

  it("shows a deleted order's history: the delete live while open, and when opened from the feed", async () => {
    const { page } = dash.browser;
    await page.click(historyButton(4));
    await expectWholeHistory(4, 1);
    await dash.psql.query('DELETE FROM orders WHERE id = 4');
    await expectWholeHistory(4, 2);
    const [deleted] = await historyEntries(page);
    expect(deleted).toMatchObject({ op: 'delete', source: 'sql', actor: 'by postgres/psql' });
    expect(deleted!.fields).toEqual({
      customer_name: { after: 'Customer 4' },
      product_name: { after: 'Product 4' },
      status: { after: 'pending' },
    });
    expect(await text(page, 'history-title')).toBe('History of order #4 (deleted)');
    await closeWith('Escape');
    // The row it was opened from is gone: focus goes to the orders' heading.
    expect(await hasFocus(page, '[data-testid="orders-heading"]')).toBe(true);

    const fromFeed =
      '[data-testid="feed-item"][data-order-id="4"][data-op="delete"] button[data-action="history"]';
    await page.click(fromFeed);
    await expectWholeHistory(4, 2);
    expect(await text(page, 'history-title')).toBe('History of order #4 (deleted)');
    await closeWith('Escape');
    expect(await hasFocus(page, fromFeed)).toBe(true);
  });

  it('opens with Enter and Space on the order number, and Escape gives the focus back to it', async () => {
    const { page } = dash.browser;
    for (const key of ['Enter', ' ']) {
      await page.focus(historyButton(5));
      await page.keyboard.press(key);
      await page.waitForSelector(PANEL, { state: 'visible' });
      expect(await hasFocus(page, '[data-testid="history-title"]')).toBe(true);
      await expectWholeHistory(5, 1);
      await page.keyboard.press('Tab'); // focus stays inside the modal panel
      expect(await hasFocus(page, '[data-testid="history-close"]')).toBe(true);
      await closeWith('Escape');
      expect(await hasFocus(page, historyButton(5))).toBe(true);
    }
  });

  it('loaded nothing from outside and raised no page error', () => {
    expect(dash.browser.external).toEqual([]);
    expect(dash.browser.errors).toEqual([]);
  });
});
