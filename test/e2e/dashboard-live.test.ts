// The dashboard in real Chromium against the real system (issue 6): snapshot + live stream, psql
// and API changes with their source, create / edit / delete from the page, API errors, truncate,
// counters, latency, a narrow screen, and nothing loaded from outside.

import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { feedPositions, type PageGlobals, rowSelector, rowsInDom, text } from './dashboard-page.js';
import { orderRows, useDashboard } from './system.js';

const dash = useDashboard({
  seed: `INSERT INTO orders (customer_name, product_name, status)
     SELECT 'Customer ' || i, 'Product ' || (i % 7), (ARRAY['pending','processing','shipped'])[1 + i % 3]
     FROM generate_series(1, 30) i`,
  live: true,
});

const dbRows = () => orderRows(dash.psql);

async function createThroughApi(body: object): Promise<{ id: number; version: number }> {
  const response = await fetch(`${dash.system.url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: number; version: number };
}

describe('the dashboard', () => {
  it('shows the snapshot: every row and the counters', async () => {
    const { page } = dash.browser;
    await waitFor(async () => JSON.stringify(await rowsInDom(page)) === JSON.stringify(await dbRows()), {
      what: 'the table to match the database',
    });
    expect(await text(page, 'count-total')).toBe('30');
    expect(await text(page, 'count-pending')).toBe('10');
    expect(await page.getAttribute('table[data-testid="orders-table"] th[aria-sort]', 'aria-sort')).toBe(
      'descending',
    );
  });

  it('shows a psql UPDATE within 2 s, with its changes and an sql badge in the feed', async () => {
    const { page } = dash.browser;
    const { rows } = await dash.psql.query(
      "SELECT id::int FROM orders WHERE status = 'pending' ORDER BY id LIMIT 1",
    );
    const id = rows[0].id as number;
    await dash.psql.query("UPDATE orders SET status = 'shipped' WHERE id = $1", [id]);
    const committed = Date.now();
    await page.waitForSelector(rowSelector(id, { status: 'shipped', version: 2 }), { timeout: 2_000 });
    expect(Date.now() - committed).toBeLessThan(2_000);
    expect(await page.textContent(`${rowSelector(id)} [data-testid="row-change"]`)).toBe(
      'status: pending → shipped',
    );
    const item = page.locator(`[data-testid="feed-item"][data-order-id="${id}"][data-op="update"]`);
    expect(await item.getAttribute('data-source')).toBe('sql');
    expect(await item.textContent()).toContain('postgres/psql');
    expect(await text(page, 'count-shipped')).toBe('11');
  });

  it('shows an order created through the API, with an api badge', async () => {
    const { page } = dash.browser;
    const order = await createThroughApi({ customer_name: 'Ada Lovelace', product_name: 'Engine' });
    await page.waitForSelector(rowSelector(order.id, { status: 'pending', version: 1 }), { timeout: 2_000 });
    expect(await page.textContent(rowSelector(order.id))).toContain('Ada Lovelace');
    const item = page.locator(`[data-testid="feed-item"][data-order-id="${order.id}"][data-op="insert"]`);
    expect(await item.getAttribute('data-source')).toBe('api');
    expect(await text(page, 'count-total')).toBe('31');
  });

  it('removes a deleted row', async () => {
    const { page } = dash.browser;
    await dash.psql.query('DELETE FROM orders WHERE id = 2');
    await page.waitForSelector(rowSelector(2), { state: 'detached', timeout: 2_000 });
    await page.waitForSelector(
      '[data-testid="feed-item"][data-order-id="2"][data-op="delete"][data-source="sql"]',
    );
    expect(await text(page, 'count-total')).toBe('30');
  });

  it('creates, edits and deletes an order from the page', async () => {
    const { page } = dash.browser;
    await page.click('summary:has-text("New order")');
    await page.fill('#new-customer', 'Grace Hopper');
    await page.fill('#new-product', 'COBOL manual');
    await page.selectOption('#new-status', 'processing');
    await page.click('[data-testid="create-form"] button[type="submit"]');
    const row = page.locator('[data-testid="orders-body"] tr', { hasText: 'Grace Hopper' });
    await row.waitFor({ timeout: 5_000 });
    const id = Number(await row.getAttribute('data-order-id'));
    expect(await row.getAttribute('data-status')).toBe('processing');
    await page.waitForSelector(`[data-testid="feed-item"][data-order-id="${id}"][data-source="api"]`);

    await row.getByRole('button', { name: `Edit order ${id}` }).click();
    await page.selectOption('[data-testid="edit-status"]', 'delivered');
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector(rowSelector(id, { status: 'delivered', version: 2 }), { timeout: 5_000 });
    expect(await text(page, 'api-status')).toContain(`Order #${id} saved`);

    await row.getByRole('button', { name: `Edit order ${id}` }).click();
    await page.click('[data-testid="edit-delete"]');
    await page.waitForSelector(rowSelector(id), { state: 'detached', timeout: 5_000 });
    expect(await dbRows()).not.toContainEqual(expect.objectContaining({ id }));
  });

  it('keeps the dialog open when an edit is stale (412 from If-Match), overwriting nothing', async () => {
    const { page } = dash.browser;
    await page.click(`${rowSelector(3)} button[data-action="edit"]`);
    // Someone else changes the order while the dialog is open; the page shows it (the dialog keeps
    // the version it opened with, which is what its If-Match sends).
    const { rows } = await dash.psql.query<{ version: number }>(
      "UPDATE orders SET product_name = 'Changed in psql' WHERE id = 3 RETURNING version",
    );
    await page.waitForSelector(rowSelector(3, { version: rows[0]!.version }), { timeout: 5_000 });
    await page.selectOption('[data-testid="edit-status"]', 'cancelled');
    await page.click('[data-testid="edit-save"]');
    // What the dialog offers then is test/e2e/dashboard-edit.test.ts's subject.
    const alert = page.locator('[data-testid="edit-alert"][data-kind="conflict"]');
    await alert.waitFor({ state: 'visible', timeout: 5_000 });
    expect(await alert.textContent()).toContain('product: Product 3 → Changed in psql');
    expect(await page.inputValue('[data-testid="edit-status"]')).toBe('cancelled');
    expect((await dbRows()).find((r) => r.id === 3)?.status).not.toBe('cancelled');
    await page.getByRole('button', { name: 'Discard my changes' }).click();
    await page.waitForSelector('[data-testid="edit-dialog"]', { state: 'hidden' });
  });

  it('shows the latency readout and a capped, ordered feed', async () => {
    const { page } = dash.browser;
    expect(await text(page, 'latency-p50')).toMatch(/^\d+(\.\d)? (ms|s)$/);
    expect(await text(page, 'latency-p99')).toMatch(/^\d+(\.\d)? (ms|s)$/);
    const positions = await feedPositions(page);
    expect(positions.length).toBeGreaterThan(0);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    expect(new Set(positions).size).toBe(positions.length);
    expect(Number(await page.getAttribute('[data-testid="position"]', 'data-position'))).toBe(positions[0]);
  });

  it('filters by status and searches', async () => {
    const { page } = dash.browser;
    await page.selectOption('[data-testid="status-filter"]', 'shipped');
    const shipped = (await dbRows()).filter((r) => r.status === 'shipped').map((r) => r.id);
    await waitFor(async () => (await rowsInDom(page)).map((r) => r.id).join() === shipped.join(), {
      what: 'only shipped rows',
    });
    await page.selectOption('[data-testid="status-filter"]', 'all');
    await page.fill('[data-testid="search"]', 'Customer 17');
    await waitFor(async () => (await rowsInDom(page)).map((r) => r.id).join() === '17', {
      what: 'row 17 only',
    });
    await page.fill('[data-testid="search"]', '');
    await waitFor(async () => (await rowsInDom(page)).length === (await dbRows()).length, {
      what: 'all rows',
    });
  });

  it('is usable with the keyboard: sorting, the edit dialog, Escape, a visible focus ring', async () => {
    const { page } = dash.browser;
    await page.focus('button[data-sort="customer_name"]');
    await page.keyboard.press('Enter');
    expect(await page.getAttribute('th:has(> button[data-sort="customer_name"])', 'aria-sort')).toBe(
      'ascending',
    );

    const edit = page.locator(`${rowSelector(5)} button[data-action="edit"]`);
    await edit.focus();
    const ring = await edit.evaluate((button) =>
      (globalThis as unknown as PageGlobals).getComputedStyle(button),
    );
    expect(ring.outlineStyle).toBe('solid');
    await page.keyboard.press('Enter');
    const dialog = page.locator('[data-testid="edit-dialog"]');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator(':focus').count()).toBe(1); // focus moved into the dialog
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.locator(`${rowSelector(5)} button[data-action="edit"]:focus`).count()).toBe(1);

    await page.click('button[data-sort="id"]');
    expect(await page.getAttribute('th:has(> button[data-sort="id"])', 'aria-sort')).toBe('descending');
  });

  it('writes a screenshot with data (test-output/dashboard-e2e.png)', async () => {
    mkdirSync('test-output', { recursive: true });
    await dash.browser.page.screenshot({ path: 'test-output/dashboard-e2e.png' });
  });

  it('fits a narrow screen: no sideways scrolling of the page', async () => {
    const { page } = dash.browser;
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return g.document.documentElement.scrollWidth - g.innerWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: 'test-output/dashboard-e2e-narrow.png', fullPage: false });
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  it('clears the table with a notice on TRUNCATE', async () => {
    const { page } = dash.browser;
    await dash.psql.query('TRUNCATE orders');
    await page.waitForSelector('[data-testid="notice"]:visible', { timeout: 2_000 });
    expect(await text(page, 'notice')).toContain('TRUNCATE');
    await waitFor(async () => (await rowsInDom(page)).length === 0, { what: 'an empty table' });
    expect(await text(page, 'count-total')).toBe('0');
  });

  it('loaded nothing from outside and raised no page error', () => {
    expect(dash.browser.external).toEqual([]);
    expect(dash.browser.errors).toEqual([]);
  });
});
