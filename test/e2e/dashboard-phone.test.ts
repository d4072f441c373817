// The dashboard on a phone (390 × 844 CSS px), measured from the elements' boxes: the sort arrow
// of a column head lies inside its cell (the "Order" head cut it off), every label stays on the
// line of its control (the Status label wrapped away from its select), nothing scrolls sideways,
// the edit dialog holds a refused field's message under it and a stale edit's question with
// both answers, an order's history panel fits the screen's width, and the header's latency
// readout breaks between its two stages, never inside a figure. Screenshots of each state go to
// test-output/e2e/phone-*.png.

import { mkdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import {
  boxOf,
  isWithin,
  type PageGlobals,
  rowSelector,
  text,
  verticalCenter,
  waitForState,
} from './dashboard-page.js';
import { useDashboard } from './system.js';

const PHONE = { width: 390, height: 844 };
const SCREENSHOTS = 'test-output/e2e';
/** Two boxes on one line have their vertical centres this close. */
const SAME_LINE_PX = 3;

const dash = useDashboard({
  seed: `INSERT INTO orders (customer_name, product_name, status)
     SELECT 'Customer ' || i, 'Product ' || i, (ARRAY['pending','processing','shipped'])[1 + i % 3]
     FROM generate_series(1, 12) i`,
});

beforeAll(async () => {
  await dash.browser.page.setViewportSize(PHONE);
  await waitForState(dash.browser.page, 'live');
  await dash.browser.page.waitForSelector(rowSelector(12));
  mkdirSync(SCREENSHOTS, { recursive: true });
});

/** What the check of broken words uses of the DOM's Range (the root tsconfig has no DOM lib). */
type RangeLike = {
  setStart(node: unknown, offset: number): void;
  setEnd(node: unknown, offset: number): void;
  getClientRects(): { length: number };
};

const head = (key: string) => `th:has(> button[data-sort="${key}"])`;

/** Whether the text of `selector` shows whole (not shortened with an ellipsis). */
async function showsWhole(selector: string): Promise<boolean> {
  return dash.browser.page.$eval(selector, (element) => {
    const box = element as unknown as { scrollWidth: number; clientWidth: number };
    return box.scrollWidth <= box.clientWidth;
  });
}

describe('the dashboard on a phone', () => {
  it('draws the "Order" sort arrow inside its cell, both ways, with the label whole', async () => {
    const { page } = dash.browser;
    for (const direction of ['descending', 'ascending']) {
      if ((await page.getAttribute(head('id'), 'aria-sort')) !== direction) await page.click(head('id'));
      expect(await page.getAttribute(head('id'), 'aria-sort')).toBe(direction);
      const arrow = await boxOf(page, `${head('id')} .sort-arrow`);
      expect(arrow.width).toBeGreaterThan(4); // drawn, not an empty span
      expect(isWithin(arrow, await boxOf(page, head('id')))).toBe(true);
      expect(await showsWhole(`${head('id')} .sort-label`)).toBe(true);
    }
    await page.click(head('id')); // back to newest first
    expect(await page.getAttribute(head('id'), 'aria-sort')).toBe('descending');
    await page.screenshot({ path: `${SCREENSHOTS}/phone-table.png` });
  });

  it('draws the arrow inside its cell for every column a phone shows', async () => {
    const { page } = dash.browser;
    for (const key of ['customer_name', 'product_name', 'status']) {
      await page.click(head(key));
      expect(await page.getAttribute(head(key), 'aria-sort')).toBe('ascending');
      const arrow = await boxOf(page, `${head(key)} .sort-arrow`);
      expect(arrow.width).toBeGreaterThan(4);
      expect(isWithin(arrow, await boxOf(page, head(key)))).toBe(true);
    }
    await page.click(head('id'));
    expect(await page.getAttribute(head('id'), 'aria-sort')).toBe('descending');
  });

  it('keeps every status badge inside its cell and breaks names between words only', async () => {
    const { page } = dash.browser;
    for (const id of [10, 11, 12]) {
      // 10 is processing (the longest status), 11 shipped, 12 pending.
      const badge = await boxOf(page, `${rowSelector(id)} .badge`);
      expect(isWithin(badge, await boxOf(page, `${rowSelector(id)} td:has(> .badge)`)), `#${id}`).toBe(true);
    }
    // "Customer 12" may take two lines, but each word stays whole: a word drawn on two lines
    // has two client rects.
    const brokenWords = await page.$$eval('[data-testid="orders-body"] td.text', (cells) =>
      cells.flatMap((cell) => {
        const doc = (cell as unknown as { ownerDocument: { createRange(): RangeLike } }).ownerDocument;
        const text = (cell as unknown as { firstChild: { textContent: string } | null }).firstChild;
        if (!text) return [];
        const broken: string[] = [];
        for (const match of text.textContent.matchAll(/\S+/g)) {
          const range = doc.createRange();
          range.setStart(text, match.index);
          range.setEnd(text, match.index + match[0].length);
          if (range.getClientRects().length > 1) broken.push(match[0]);
        }
        return broken;
      }),
    );
    expect(brokenWords).toEqual([]);
  });

  it('keeps every label on the line of its control: the filters and the new-order form', async () => {
    const { page } = dash.browser;
    await page.click('summary:has-text("New order")');
    await page.waitForSelector('[data-testid="create-form"]', { state: 'visible' });
    const labels = await page.$$eval(
      '[data-testid="filter-form"] label[for], [data-testid="create-form"] label[for]',
      (found) => found.map((label) => (label as unknown as { htmlFor: string }).htmlFor),
    );
    expect(labels).toEqual(['search', 'status-filter', 'new-customer', 'new-product', 'new-status']);
    for (const id of labels) {
      const label = await boxOf(page, `label[for="${id}"]`);
      const control = await boxOf(page, `#${id}`);
      expect(Math.abs(verticalCenter(label) - verticalCenter(control)), id).toBeLessThanOrEqual(SAME_LINE_PX);
      expect(label.x + label.width, id).toBeLessThanOrEqual(control.x); // label first, then its control
      expect(await showsWhole(`label[for="${id}"]`), `${id}: the label's text fits its box`).toBe(true);
    }
    await page.screenshot({ path: `${SCREENSHOTS}/phone-new-order.png` });
    await page.click('summary:has-text("New order")');
  });

  it('does not scroll sideways', async () => {
    const overflow = await dash.browser.page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return g.document.documentElement.scrollWidth - g.innerWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it("shows a refused field's message under it in the edit dialog", async () => {
    const { page } = dash.browser;
    await page.click(`${rowSelector(5)} button[data-action="edit"]`);
    await page.fill('#edit-product', '  ');
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector('#edit-product[aria-invalid="true"]', { timeout: 5_000 });
    const field = await boxOf(page, '#edit-product');
    const message = await boxOf(page, '#edit-product-error');
    expect(message.y).toBeGreaterThanOrEqual(field.y + field.height);
    expect(isWithin(message, await boxOf(page, '[data-testid="edit-dialog"]'))).toBe(true);
    await page.screenshot({ path: `${SCREENSHOTS}/phone-edit-error.png` });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForSelector('[data-testid="edit-dialog"]', { state: 'hidden' });
  });

  it("fits a stale edit's question and both answers in the dialog", async () => {
    const { page } = dash.browser;
    await page.click(`${rowSelector(6)} button[data-action="edit"]`);
    await page.fill('#edit-customer', 'Typed on the phone');
    await dash.psql.query("UPDATE orders SET product_name = 'Changed in psql' WHERE id = 6");
    await page.waitForSelector(rowSelector(6, { version: 2 }), { timeout: 5_000 });
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector('[data-testid="edit-alert"][data-kind="conflict"]', { timeout: 5_000 });
    const dialog = await boxOf(page, '[data-testid="edit-dialog"]');
    for (const selector of [
      '[data-testid="edit-alert"]',
      '[data-testid="edit-rebase"]',
      '[data-testid="edit-discard"]',
    ])
      expect(isWithin(await boxOf(page, selector), dialog), selector).toBe(true);
    await page.screenshot({ path: `${SCREENSHOTS}/phone-edit-conflict.png` });
    await page.click('[data-testid="edit-discard"]');
    await page.waitForSelector('[data-testid="edit-dialog"]', { state: 'hidden' });
  });

  it("fits an order's history panel, its entries and its Close button in the phone's width", async () => {
    const { page } = dash.browser;
    const panel = '[data-testid="history-panel"]';
    await page.click(`${rowSelector(6)} button[data-action="history"]`);
    await page.waitForSelector(`${panel} [data-testid="history-entry"][data-op="update"]`, {
      timeout: 5_000,
    });
    const sheet = await boxOf(page, panel);
    expect(isWithin(sheet, { x: 0, y: 0, ...PHONE })).toBe(true);
    expect(sheet.width).toBeGreaterThan(PHONE.width - 2); // the whole width: nothing beside it to read
    const entries = page.locator(`${panel} [data-testid="history-entry"]`);
    expect(await entries.count()).toBe(2); // created, then the product changed in psql above
    for (let i = 0; i < 2; i++) {
      const entry = await entries.nth(i).boundingBox();
      expect(entry && isWithin(entry, sheet), `entry ${i}`).toBe(true);
    }
    expect(isWithin(await boxOf(page, '[data-testid="history-close"]'), sheet)).toBe(true);
    const sideways = await page.$eval(panel, (dialog) => {
      const box = dialog as unknown as { scrollWidth: number; clientWidth: number };
      return box.scrollWidth - box.clientWidth;
    });
    expect(sideways).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${SCREENSHOTS}/phone-history.png` });
    await page.keyboard.press('Escape');
    await page.waitForSelector(panel, { state: 'hidden' });
  });

  it('shows both latency stages in the header, each figure whole on one line', async () => {
    const { page } = dash.browser;
    await dash.psql.query("UPDATE orders SET status = 'delivered' WHERE id = 7");
    await page.waitForSelector(rowSelector(7, { status: 'delivered' }), { timeout: 5_000 });
    await waitFor(async () => /\d/.test(await text(page, 'socket-p50')), {
      timeoutMs: 5_000,
      what: 'the socket → screen figure',
    });
    const header = await boxOf(page, 'header.top');
    const stages = page.locator('[data-testid="latency"] .latency-stage');
    expect(await stages.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      const stage = await stages.nth(i).boundingBox();
      expect(stage && isWithin(stage, header), `stage ${i}`).toBe(true);
    }
    // The second stage starts a line of its own rather than leaving its name at a line's end.
    const [first, second] = [await stages.nth(0).boundingBox(), await stages.nth(1).boundingBox()];
    expect(second!.y).toBeGreaterThanOrEqual(first!.y + first!.height - SAME_LINE_PX);
    const figures = page.locator('[data-testid="latency"] .figure');
    expect(await figures.count()).toBe(4);
    for (let i = 0; i < 4; i++) {
      // An inline box's client rects are its pieces (abbr, space, value): all on one line.
      const tops = await figures.nth(i).evaluate((figure) => {
        const rects = (
          figure as unknown as { getClientRects(): ArrayLike<{ top: number }> }
        ).getClientRects();
        return [...new Set(Array.from(rects, (rect) => Math.round(rect.top)))];
      });
      expect(tops, `figure ${i}: ${await figures.nth(i).textContent()}`).toHaveLength(1);
    }
    const overflow = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return g.document.documentElement.scrollWidth - g.innerWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${SCREENSHOTS}/phone-header.png`, clip: header });
  });

  it('loaded nothing from outside and raised no page error', () => {
    expect(dash.browser.external).toEqual([]);
    expect(dash.browser.errors).toEqual([]);
  });
});
