// The README's "Use it from your code" examples, run as a user would against the real system:
// examples/shipped-orders.mjs in Node twice — in this checkout (`orders-live/client` resolved to
// the source by the `source` export condition) and copied into another project that installed
// this package packed by `npm pack` (resolved to the built files) — and
// /examples/shipped-orders.html in Chromium (the browser bundle). A psql change to shipped shows
// up in all three; so does an order leaving shipped.

import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectPath } from '../../src/paths.js';
import { useExchange } from '../helpers/amqp.js';
import { useTestDatabase } from '../helpers/db.js';
import { type CliProcess, startNode } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';
import { type DashboardBrowser, openDashboard } from './browser.js';
import { type InstalledPackage, installPackedPackage } from './packed-package.js';
import { startSystem, systemEnv, type TestSystem } from './system.js';
import { ensureWebBuilt } from './web-build.js';

const db = useTestDatabase();
const exchange = useExchange();
let psql: pg.Pool;
let system: TestSystem;
let node: CliProcess;
let app: InstalledPackage;
let installed: CliProcess;
let browser: DashboardBrowser;

beforeAll(async () => {
  await ensureWebBuilt();
  psql = db.pool({ application_name: 'psql' });
  await psql.query(
    "INSERT INTO orders (customer_name, product_name, status) VALUES ('Ada', 'Pixel 10', 'shipped'), ('Grace', 'Kindle', 'pending')",
  );
  system = await startSystem(systemEnv(db, exchange));
  node = startNode(['--conditions=source', '--import', 'tsx', 'examples/shipped-orders.mjs'], {
    ORDERS_LIVE_URL: system.url,
  });
  app = await installPackedPackage();
  copyFileSync(projectPath('examples', 'shipped-orders.mjs'), join(app.dir, 'shipped-orders.mjs'));
  installed = startNode(['shipped-orders.mjs'], { ORDERS_LIVE_URL: system.url }, app.dir);
  browser = await openDashboard(`${system.url}/examples/shipped-orders.html`);
});

// Registered after useTestDatabase(), so it runs before the database's leak check.
afterAll(async () => {
  await browser?.close();
  await node?.kill('SIGINT');
  await installed?.kill('SIGINT');
  app?.remove();
  await system?.stop();
  await psql?.end();
});

const pageText = async () => (await browser.page.textContent('body')) ?? '';

it('shows the shipped orders of the snapshot, then every change to shipped orders, in Node and in a page', async () => {
  const programs = [
    { name: 'the Node example', program: node },
    { name: 'the Node example in another project', program: installed },
  ];
  for (const { name, program } of programs) {
    await waitFor(() => program.stdout().includes('shipped: 1, live after position'), {
      timeoutMs: 30_000,
      what: `${name} to be live; output:\n${program.output()}`,
    });
  }
  await waitFor(async () => (await pageText()).includes('shipped: 1, live after position'), {
    what: 'the page to be live',
  });

  await psql.query("UPDATE orders SET status = 'shipped' WHERE customer_name = 'Grace'");
  await psql.query("UPDATE orders SET status = 'delivered' WHERE customer_name = 'Ada'");
  const added = /added #\d+ Grace by postgres\/psql \(sql\)/;
  const removed = /removed #\d+ Ada by postgres\/psql \(sql\)/;
  for (const { name, program } of programs) {
    await waitFor(() => added.test(program.stdout()) && removed.test(program.stdout()), {
      what: `${name} to print both changes; output:\n${program.output()}`,
    });
  }
  await waitFor(async () => added.test(await pageText()) && removed.test(await pageText()), {
    what: 'the page to show both changes',
  });
  // Nothing about orders that were never shipped, nor anything twice.
  for (const { program } of programs) expect(program.stdout().match(/Grace/g)).toHaveLength(1);
  expect(browser.errors).toEqual([]);
  expect(browser.external).toEqual([]);
  for (const { program } of programs) expect(await program.kill('SIGINT')).toBe(0);
});

it('is packed with the built library, its types and the browser bundle, and nothing local', () => {
  expect(app.files).toEqual(
    expect.arrayContaining([
      'dist/src/client/index.js',
      'dist/src/client/index.d.ts',
      'dist/src/main.js',
      'web/dist/client/orders-live-client.js',
      'migrations/1764000000007_batch-positions.sql',
      'examples/shipped-orders.mjs',
    ]),
  );
  expect(app.files.filter((f) => /^(node_modules|bench\/results|test-output)\/|^\.env$/.test(f))).toEqual([]);
});

it('is the code the README shows', () => {
  const readme = readFileSync(projectPath('README.md'), 'utf8');
  for (const file of ['examples/shipped-orders.mjs', 'web/public/examples/shipped-orders.js']) {
    expect(readme, `README quotes ${file}`).toContain(readFileSync(projectPath(file), 'utf8').trim());
  }
});
