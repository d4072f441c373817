// Headless Chromium (Debian's package, driven by playwright-core) on a fresh profile, with what
// the page requested outside its own origin and every page error recorded for assertions.
// No vitest import: scripts/screenshot.ts uses it too.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why Chromium cannot be used, with how to get it, or null when it is there. */
export function chromiumProblem(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  return `Chromium not found at ${CHROMIUM_PATH} (the browser tests need it): install Debian's package (sudo apt-get install -y chromium) or set CHROMIUM_PATH`;
}

/** Throws `chromiumProblem()` as one line. */
export function requireChromium(): void {
  const problem = chromiumProblem();
  if (problem) throw new Error(problem);
}

/** Quiet, offline-friendly Chromium: no GPU, no QUIC, no background fetches of its own. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Chromium logs every failed request: a 4xx the page asked for and shows (a stale edit's 412, a
 * 401 without token) and refused socket handshakes while a gateway restarts are not page bugs.
 */
const EXPECTED_CONSOLE_ERRORS =
  /WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource: the server responded with a status of 4\d\d/;

export interface DashboardBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** URLs (HTTP and WebSocket) the page asked for outside the dashboard's origin. */
  readonly external: string[];
  /** Uncaught exceptions and console errors of the page. */
  readonly errors: string[];
  close(): Promise<void>;
}

export async function openDashboard(
  url: string,
  viewport: { width: number; height: number } = { width: 1440, height: 900 },
): Promise<DashboardBrowser> {
  requireChromium();
  const profile = await mkdtemp(join(tmpdir(), 'orders-live-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const origin = new URL(url).origin;
  const sameHost = new URL(url).host;
  const external: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => {
    const target = request.url();
    if (!target.startsWith('data:') && new URL(target).origin !== origin) external.push(target);
  });
  page.on('websocket', (socket) => {
    if (new URL(socket.url()).host !== sameHost) external.push(socket.url());
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !EXPECTED_CONSOLE_ERRORS.test(message.text()))
      errors.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  return {
    context,
    page,
    external,
    errors,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
