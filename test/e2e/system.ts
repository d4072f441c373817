// The whole system (`orders-live start`, all roles) as a child process on its own database and
// exchange, the way an operator runs it; the dashboard, API and socket share its one port.

import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { useExchange } from '../helpers/amqp.js';
import { type TestDatabase, useTestDatabase } from '../helpers/db.js';
import { type CliProcess, cliEnv, startCli } from '../helpers/process.js';
import { type DashboardBrowser, openDashboard, requireChromium } from './browser.js';
import { type RowInDom, waitForState } from './dashboard-page.js';
import { ensureWebBuilt } from './web-build.js';

/** tsx compiles on start; on two busy cores that can take a while. */
const START_TIMEOUT_MS = 60_000;

export interface TestSystem {
  readonly url: string;
  readonly port: number;
  readonly process: CliProcess;
  /** SIGTERM and wait for the exit (a graceful stop). */
  stop(): Promise<void>;
}

export function systemEnv(db: TestDatabase, exchange: string, extra: Record<string, string> = {}) {
  return cliEnv(db, exchange, extra);
}

/** Starts the system on `port` (0: any free one) and waits for "orders-live started". */
export async function startSystem(env: Record<string, string>, port = 0): Promise<TestSystem> {
  const process = startCli(['start', '--port', String(port)], env);
  const started = await process.waitForLog({ msg: 'orders-live started' }, START_TIMEOUT_MS);
  const url = String(started.url);
  return {
    url,
    port: Number(new URL(url).port),
    process,
    async stop() {
      await process.kill('SIGTERM');
    },
  };
}

export interface DashboardSystem {
  /** Writes as an operator in psql does: the capture records actor postgres/psql, source sql. */
  psql: pg.Pool;
  system: TestSystem;
  browser: DashboardBrowser;
}

/**
 * Each e2e file's start: the page built, a psql pool, optional seed rows, the system, the page.
 * Without Chromium it fails before starting anything; when a later step fails, what the earlier
 * ones started is closed before the error goes on (the file's afterAll never got hold of it).
 */
export async function openDashboardSystem(
  db: TestDatabase,
  env: Record<string, string>,
  seedSql?: string,
): Promise<DashboardSystem> {
  requireChromium();
  await ensureWebBuilt();
  const parts: Partial<DashboardSystem> = {};
  try {
    parts.psql = db.pool({ application_name: 'psql' });
    if (seedSql) await parts.psql.query(seedSql);
    parts.system = await startSystem(env);
    parts.browser = await openDashboard(parts.system.url);
    return parts as DashboardSystem;
  } catch (e) {
    await closeDashboardSystem(parts).catch(() => undefined);
    throw e;
  }
}

/** Closes what openDashboardSystem opened (call it in an afterAll registered after useTestDatabase). */
export async function closeDashboardSystem(parts: Partial<DashboardSystem>): Promise<void> {
  await parts.browser?.close();
  await parts.system?.stop();
  await parts.psql?.end();
}

/** Every order's id, status and version, as the page's rows are compared with them. */
export async function orderRows(psql: pg.Pool): Promise<RowInDom[]> {
  const { rows } = await psql.query<RowInDom>('SELECT id::int, status, version FROM orders ORDER BY id');
  return rows;
}

export interface DashboardFixture extends DashboardSystem {
  readonly db: TestDatabase;
  readonly exchange: string;
  /** The system's environment (the file's extra variables included), to start it again. */
  env(): Record<string, string>;
}

export interface DashboardFixtureOptions {
  /** Variables over systemEnv's (API_TOKENS, say). */
  env?: Record<string, string>;
  /** SQL run before the system starts (seed rows). */
  seed?: string;
  /** Wait until the page is live before the first test. */
  live?: boolean;
}

/**
 * An e2e file's setup: its own database and exchange, the system started on them (seeded first),
 * the dashboard open in Chromium, all closed after the file. The fields are filled before the
 * first test; a test may replace `system` (a restart) and the new one is closed instead.
 */
export function useDashboard(options: DashboardFixtureOptions = {}): DashboardFixture {
  const db = useTestDatabase();
  const exchange = useExchange();
  const fixture: Omit<DashboardFixture, keyof DashboardSystem> & Partial<DashboardSystem> = {
    db,
    exchange,
    env: () => systemEnv(db, exchange, options.env),
  };
  beforeAll(async () => {
    Object.assign(fixture, await openDashboardSystem(db, fixture.env(), options.seed));
    if (options.live) await waitForState(fixture.browser!.page, 'live');
  });
  // Registered after useTestDatabase(), so it runs before the database's leak check.
  afterAll(() => closeDashboardSystem(fixture));
  return fixture as DashboardFixture;
}
