// The edit dialog against the real API when a write is refused: the dialog stays open with what
// the user typed. A 400 ties each refused field to the server's message (aria-invalid,
// aria-describedby, as Chromium's accessibility tree reports them) and focuses it; a 412 names
// what someone else changed, and "use my values" applies the user's edits to the newer version
// without undoing the other writer's; "discard" drops them; no answer (the system stopped) says
// so, and Save succeeds once the system is back. The new-order form ties its fields the same way.

import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { accessibleControl, rowSelector, text, waitForState } from './dashboard-page.js';
import { startSystem, useDashboard } from './system.js';

const dash = useDashboard({
  seed: "INSERT INTO orders (customer_name, product_name) SELECT 'Customer ' || i, 'Product ' || i FROM generate_series(1, 10) i",
  live: true,
});

const DIALOG = '[data-testid="edit-dialog"]';
const ALERT = '[data-testid="edit-alert"]';

interface OrderInDb {
  customer_name: string;
  product_name: string;
  status: string;
  version: number;
}

async function orderInDb(id: number): Promise<OrderInDb> {
  const { rows } = await dash.psql.query<OrderInDb>(
    'SELECT customer_name, product_name, status, version FROM orders WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

/** Writes as an operator in psql; resolves once the page's row shows the new version. */
async function changeInPsql(id: number, set: string): Promise<number> {
  const { rows } = await dash.psql.query<{ version: number }>(
    `UPDATE orders SET ${set} WHERE id = $1 RETURNING version`,
    [id],
  );
  const version = rows[0]!.version;
  await dash.browser.page.waitForSelector(rowSelector(id, { version }), { timeout: 5_000 });
  return version;
}

async function openEdit(id: number): Promise<void> {
  await dash.browser.page.click(`${rowSelector(id)} button[data-action="edit"]`);
  await dash.browser.page.waitForSelector(DIALOG, { state: 'visible' });
}

/** The typed values, as the dialog's fields hold them. */
async function typed(): Promise<{ customer: string; product: string; status: string }> {
  const { page } = dash.browser;
  return {
    customer: await page.inputValue('#edit-customer'),
    product: await page.inputValue('#edit-product'),
    status: await page.inputValue('#edit-status'),
  };
}

describe('the dialog and the form when the server refuses a write', () => {
  it('400: keeps the dialog and the input, ties the refused field to the server message, focuses it', async () => {
    const { page } = dash.browser;
    // What the API says of a blank name, asked directly: the page must show exactly this.
    const refused = await fetch(`${dash.system.url}/orders/1`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer_name: '   ' }),
    });
    expect(refused.status).toBe(400);
    const { errors } = (await refused.json()) as { errors: { field: string; message: string }[] };
    const message = errors.find((e) => e.field === 'customer_name')!.message;

    await openEdit(1);
    // Blanks pass the field's `required` (only an empty value is missing): the API refuses them.
    await page.fill('#edit-customer', '   ');
    await page.fill('#edit-product', 'Typed product');
    await page.selectOption('#edit-status', 'shipped');
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector('#edit-customer[aria-invalid="true"]', { timeout: 5_000 });

    expect(await page.isVisible(DIALOG)).toBe(true);
    expect(await typed()).toEqual({ customer: '   ', product: 'Typed product', status: 'shipped' });
    const describedBy = await page.getAttribute('#edit-customer', 'aria-describedby');
    expect(describedBy).toBeTruthy();
    expect(await page.textContent(`#${describedBy}`)).toBe(message);
    expect(await page.getAttribute('#edit-product', 'aria-invalid')).toBeNull();
    expect(await accessibleControl(page, '#edit-customer')).toEqual({
      name: 'Customer',
      description: message,
      invalid: true,
      focused: true,
    });
    expect(await text(page, 'edit-alert')).toContain('Order #1 was not saved');
    expect(await orderInDb(1)).toMatchObject({ customer_name: 'Customer 1', version: 1 });

    // Editing the field clears its error; then the save goes through with everything typed.
    await page.fill('#edit-customer', 'Fixed customer');
    await page.waitForSelector('#edit-customer:not([aria-invalid])');
    expect(await page.getAttribute('#edit-customer', 'aria-describedby')).toBeNull();
    expect(await page.locator(`#${describedBy}`).count()).toBe(0);
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector(DIALOG, { state: 'hidden', timeout: 5_000 });
    expect(await orderInDb(1)).toEqual({
      customer_name: 'Fixed customer',
      product_name: 'Typed product',
      status: 'shipped',
      version: 2,
    });
  });

  it('412: keeps the input, names what changed, and "use my values" saves them on the new version', async () => {
    const { page } = dash.browser;
    await openEdit(2);
    await page.fill('#edit-customer', 'My customer');
    await page.selectOption('#edit-status', 'delivered');
    // Someone else changes the order while the dialog is open: the live table shows it at once.
    const theirs = await changeInPsql(2, "customer_name = 'Their customer', product_name = 'Their product'");
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector(`${ALERT}[data-kind="conflict"]`, { timeout: 5_000 });

    expect(await page.getAttribute(ALERT, 'role')).toBe('alert');
    const said = await text(page, 'edit-alert');
    expect(said).toContain(`version 1 → ${theirs}`);
    expect(said).toContain('customer: Customer 2 → Their customer');
    expect(said).toContain('product: Product 2 → Their product');
    expect(said).toContain('Your customer would replace theirs');
    expect(await typed()).toEqual({ customer: 'My customer', product: 'Product 2', status: 'delivered' });
    const useMine = page.getByRole('button', { name: `Use my values on version ${theirs}` });
    expect(await useMine.count()).toBe(1);
    expect(await page.locator('[data-testid="edit-rebase"]:focus').count()).toBe(1);
    expect(await orderInDb(2)).toMatchObject({ status: 'pending', version: theirs });

    await useMine.click();
    await page.waitForSelector(DIALOG, { state: 'hidden', timeout: 5_000 });
    // The user's edits on top of the other writer's version: their product stays.
    expect(await orderInDb(2)).toEqual({
      customer_name: 'My customer',
      product_name: 'Their product',
      status: 'delivered',
      version: theirs + 1,
    });
    await page.waitForSelector(rowSelector(2, { status: 'delivered', version: theirs + 1 }), {
      timeout: 5_000,
    });
    expect(await text(page, 'api-status')).toContain(`Order #2 saved (version ${theirs + 1})`);
  });

  it('412: "discard" closes the dialog and leaves the other writer\'s version alone', async () => {
    const { page } = dash.browser;
    await openEdit(3);
    await page.selectOption('#edit-status', 'cancelled');
    const theirs = await changeInPsql(3, "product_name = 'Changed in psql'");
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector(`${ALERT}[data-kind="conflict"]`, { timeout: 5_000 });
    expect(await text(page, 'edit-alert')).toContain('product: Product 3 → Changed in psql');
    await page.getByRole('button', { name: 'Discard my changes' }).click();
    await page.waitForSelector(DIALOG, { state: 'hidden' });
    expect(await orderInDb(3)).toMatchObject({
      product_name: 'Changed in psql',
      status: 'pending',
      version: theirs,
    });
    expect(await text(page, 'api-status')).toContain('Order #3: your changes were discarded');
  });

  it('no answer: says so with the input kept, and Save succeeds once the system is back', async () => {
    const { page } = dash.browser;
    await openEdit(4);
    await page.fill('#edit-customer', 'Typed while down');
    await dash.system.stop();
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector(`${ALERT}[data-kind="failed"]`, { timeout: 5_000 });
    expect(await text(page, 'edit-alert')).toContain('No answer');
    expect(await page.isVisible(DIALOG)).toBe(true);
    expect((await typed()).customer).toBe('Typed while down');
    expect(await page.locator('[data-testid="edit-save"]:focus:enabled').count()).toBe(1);

    dash.system = await startSystem(dash.env(), dash.system.port);
    await waitForState(page, 'live', 30_000);
    await page.click('[data-testid="edit-save"]');
    await page.waitForSelector(DIALOG, { state: 'hidden', timeout: 5_000 });
    await waitFor(async () => (await orderInDb(4)).customer_name === 'Typed while down', {
      what: 'the saved customer in the database',
    });
  });

  it('400 in the new-order form: the same tie-in, the input kept, cleared when edited', async () => {
    const { page } = dash.browser;
    await page.click('summary:has-text("New order")');
    await page.fill('#new-customer', 'Ada');
    await page.fill('#new-product', ' ');
    await page.click('[data-testid="create-form"] button[type="submit"]');
    await page.waitForSelector('#new-product[aria-invalid="true"]', { timeout: 5_000 });
    expect(await page.getAttribute('[data-testid="api-error"]', 'data-status')).toBe('400');
    expect(await page.inputValue('#new-customer')).toBe('Ada');
    expect(await accessibleControl(page, '#new-product')).toEqual({
      name: 'Product',
      description: 'must not be empty',
      invalid: true,
      focused: true,
    });
    mkdirSync('test-output/e2e', { recursive: true });
    await page.screenshot({ path: 'test-output/e2e/create-error.png' });

    await page.fill('#new-product', 'Analytical engine');
    await page.waitForSelector('#new-product:not([aria-invalid])');
    expect(await page.locator('#new-product-error').count()).toBe(0);
    await page.click('[data-testid="create-form"] button[type="submit"]');
    await page
      .locator('[data-testid="orders-body"] tr', { hasText: 'Analytical engine' })
      .waitFor({ timeout: 5_000 });
  });

  it('loaded nothing from outside and raised no page error', () => {
    expect(dash.browser.external).toEqual([]);
    expect(dash.browser.errors).toEqual([]);
  });
});
