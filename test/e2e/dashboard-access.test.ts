// The dashboard on a server with a read-write and a read-only token: it asks for a token before
// it shows any order, keeps the one entered, follows the table live with a read-only one while
// offering nothing that would change an order, and offers editing again with a read-write one;
// a handshake the gateway refuses outright is shown, and a good token mends it.

import { describe, expect, it } from 'vitest';
import { rowSelector, rowsInDom, storedToken, text, waitForState } from './dashboard-page.js';
import { useDashboard } from './system.js';

const OPERATOR = 'e2e-operator-token-0123456789';
const WALL = 'e2e-wall-token-9876543210abc';

const dash = useDashboard({
  env: { API_TOKENS: `operator:${OPERATOR},wall:${WALL}:read` },
  seed: "INSERT INTO orders (customer_name, product_name) SELECT 'Customer ' || i, 'Product' FROM generate_series(1, 5) i",
});

/** As a user does: opens "API token" when it is closed, types the token, presses Enter. */
async function enterToken(token: string): Promise<void> {
  if (!(await dash.browser.page.isVisible('[data-testid="token"]')))
    await dash.browser.page.click('[data-testid="token-summary"]');
  await dash.browser.page.fill('[data-testid="token"]', token);
  await dash.browser.page.press('[data-testid="token"]', 'Enter');
}

describe('the dashboard with a read-only token', () => {
  it('asks for a token and shows no order before it has one', async () => {
    const { page } = dash.browser;
    await waitForState(page, 'unauthorized');
    await page.waitForSelector('[data-testid="token-hint"]:visible');
    expect(await page.getAttribute('[data-testid="token"]', 'aria-invalid')).toBe('true');
    expect(await rowsInDom(page)).toEqual([]);
    expect(await text(page, 'counters')).not.toMatch(/[1-9]/);
  });

  it('follows the table live with a read-only token, offering no way to change an order', async () => {
    const { page } = dash.browser;
    await enterToken(WALL);
    await waitForState(page, 'live');
    expect((await rowsInDom(page)).length).toBe(5);
    expect(await page.isVisible('summary:has-text("New order")')).toBe(false);
    expect(await page.locator('button[data-action="edit"]:visible').count()).toBe(0);
    expect(await text(page, 'token-status')).toBe(
      'Token "wall" may only read: creating, editing and deleting orders are hidden.',
    );
    expect(await text(page, 'token-summary')).toBe('API token: read-only');

    await dash.psql.query("UPDATE orders SET status = 'shipped' WHERE id = 2");
    await page.waitForSelector(rowSelector(2, { status: 'shipped', version: 2 }), { timeout: 10_000 });

    // Kept for the next visit, and a reload goes live with it at once.
    await page.reload();
    await waitForState(page, 'live');
    expect(await storedToken(page)).toBe(WALL);
  });

  it('offers editing again once a read-write token is entered', async () => {
    const { page } = dash.browser;
    await enterToken(OPERATOR);
    await page.waitForSelector('summary:has-text("New order")', { state: 'visible' });
    expect(await page.locator('button[data-action="edit"]:visible').count()).toBe(5);
    expect(await text(page, 'token-status')).toBe('Token "operator" may read and change orders.');
    expect(dash.browser.errors).toEqual([]);
  });

  it('says when the gateway refuses the handshake itself, and follows again once a good token is entered', async () => {
    const { page } = dash.browser;
    await waitForState(page, 'live');
    // Over the handshake's 1,000 characters: a 400, which no retry with the same token can mend.
    await enterToken('x'.repeat(1_001));
    await waitForState(page, 'refused');
    await enterToken(OPERATOR);
    await waitForState(page, 'live');
    expect((await rowsInDom(page)).length).toBe(5);
    await dash.psql.query("UPDATE orders SET status = 'delivered' WHERE id = 3");
    await page.waitForSelector(rowSelector(3, { status: 'delivered' }), { timeout: 10_000 });
    expect(dash.browser.errors).toEqual([]);
  });
});
