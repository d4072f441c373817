// After a chaos run and a quiet period: did every observer get every position exactly once, in
// order, and does what it rebuilt equal the table? Does the log hold every confirmed change?

import { mkdirSync, writeFileSync } from 'node:fs';
import type pg from 'pg';
import { expect } from 'vitest';
import { projectPath } from '../../src/paths.js';
import type { TestConsumer } from '../helpers/amqp.js';
import { waitFor } from '../helpers/wait.js';
import type { LoadResult } from './load.js';
import { changeOf, type Observer } from './observer.js';

export interface ScenarioReport {
  scenario: string;
  written: number;
  confirmedChanges: number;
  failedWrites: number;
  delivered: number[];
  lost: number;
  duplicates: number;
  gaps: number;
  /** Positions the gateways sent twice or skipped, which the library dropped or resumed over. */
  gatewayRepeats: number;
  gatewayGaps: number;
  resyncs: number;
  maxLagMs: number;
  settleMs: number;
  /** Per-event messages the integration queue got more than once (at least once is the promise). */
  integrationRepeats: number;
  /** What the fault hit, in words (which node, which bridge), when the scenario says. */
  detail?: string;
  /** Faults given in the scenario, when more than one can be (rounds of PostgreSQL crashes). */
  faults?: number;
}

export interface VerifyOptions {
  /** The observers follow on after the checks: a later round of the same run checks them again. @default false */
  keepObservers?: boolean;
  /**
   * Retention ran: the log may have deleted its oldest positions. Confirmed changes among them
   * must be among what the observers were delivered there. @default false
   */
  retention?: boolean;
}

export async function verifyRun(
  scenario: string,
  pool: pg.Pool,
  observers: Observer[],
  load: LoadResult,
  integration: TestConsumer,
  options: VerifyOptions = {},
): Promise<ScenarioReport> {
  const quietStarted = Date.now();
  await waitFor(
    async () => (await pool.query('SELECT 1 FROM order_events_backlog() WHERE events > 0')).rowCount === 0,
    {
      timeoutMs: 60_000,
      what: 'every event published',
    },
  );
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM order_events)::int AS n, (SELECT max(position) FROM order_event_log)::int AS max,
            (SELECT count(*) FROM order_event_log)::int AS numbered,
            (SELECT coalesce(min(first_position), 1) FROM order_event_batches)::int AS min`,
  );
  const { n, max, numbered, min } = rows[0] as { n: number; max: number; numbered: number; min: number };
  /** Positions retention deleted, the oldest ones. */
  const deleted = min - 1;
  await waitFor(() => observers.every((o) => o.stats.last >= max), {
    timeoutMs: 60_000,
    what: `observers at position ${max} (at ${observers.map((o) => o.stats.last).join(', ')})`,
  });
  const settleMs = Date.now() - quietStarted;
  if (!options.keepObservers) for (const o of observers) o.stop();
  // The per-event exchange follows the feed on its own cursor: every position, at least once.
  await waitFor(() => new Set(integration.positions()).size >= max, {
    timeoutMs: 60_000,
    what: `the integration queue at ${max} positions (has ${new Set(integration.positions()).size})`,
  });

  const report: ScenarioReport = {
    scenario,
    written: n + deleted,
    confirmedChanges: load.committed.size,
    failedWrites: load.failed,
    delivered: observers.map((o) => o.stats.received),
    lost: observers.reduce((sum, o) => sum + (max - o.stats.base - o.stats.received), 0),
    duplicates: observers.reduce((sum, o) => sum + o.stats.duplicates, 0),
    gaps: observers.reduce((sum, o) => sum + o.stats.gaps.length, 0),
    gatewayRepeats: observers.reduce((sum, o) => sum + o.stats.gatewayRepeats, 0),
    gatewayGaps: observers.reduce((sum, o) => sum + o.stats.gatewayGaps, 0),
    resyncs: observers.reduce((sum, o) => sum + o.stats.resyncs, 0),
    maxLagMs: Math.max(...observers.map((o) => o.stats.maxLagMs)),
    settleMs,
    integrationRepeats: integration.positions().length - new Set(integration.positions()).size,
  };
  writeReport(report);

  // The log: numbered 1..max without a gap (the first `deleted` gone by retention), holding
  // every change whose commit was confirmed.
  if (!options.retention) expect(deleted).toBe(0);
  expect(numbered).toBe(n);
  expect(max).toBe(n + deleted);
  const logged = await pool.query<{ key: string }>(
    "SELECT order_id || ':' || version || ':' || op AS key FROM order_events WHERE op <> 'truncate'",
  );
  const inLog = new Set(logged.rows.map((r) => r.key));
  for (const o of observers)
    for (const [position, seen] of o.seen) if (position <= deleted) inLog.add(changeOf(seen));
  const missing = [...load.committed].filter((k) => !inLog.has(k));
  expect(missing).toEqual([]);
  expect([...new Set(integration.positions())].sort((a, b) => a - b)).toEqual(
    Array.from({ length: max }, (_, i) => i + 1),
  );

  // Every observer: every position once, ascending (from 0, or from its snapshot), and the table
  // rebuilt exactly; and the gateways sent nothing the library had to drop or resume over.
  const table = await pool.query(
    'SELECT id::int, customer_name, product_name, status, version FROM orders ORDER BY id',
  );
  for (const o of observers) {
    expect(o.stats.gaps).toEqual([]);
    expect(o.stats.duplicates).toBe(0);
    expect(o.stats.resyncs).toBe(0);
    expect(o.stats.received).toBe(max - o.stats.base);
    expect(o.stats.gatewayRepeats).toBe(0);
    expect(o.stats.gatewayGaps).toBe(0);
    const rebuilt = o
      .orders()
      .map((r) => ({
        id: r.id,
        customer_name: r.customer_name,
        product_name: r.product_name,
        status: r.status,
        version: r.version,
      }))
      .sort((a, b) => a.id - b.id);
    expect(rebuilt).toEqual(table.rows);
  }
  return report;
}

function writeReport(report: ScenarioReport): void {
  const dir = projectPath('test-output', 'chaos');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}/${report.scenario.replace(/\W+/g, '-')}.json`,
    `${JSON.stringify(report, null, 2)}\n`,
  );
  console.log(
    `[chaos] ${report.scenario}: written ${report.written}, delivered ${report.delivered.join('/')}, lost ${report.lost}, ` +
      `duplicates ${report.duplicates}, gaps ${report.gaps}, gateway repeats/gaps ${report.gatewayRepeats}/${report.gatewayGaps}, max lag ${report.maxLagMs} ms, settled in ${report.settleMs} ms, ` +
      `integration queue: every position, ${report.integrationRepeats} repeats`,
  );
}

// The runs' reports and docs/chaos-results.md (scripts/chaos-series.ts imports them from here).
export { type MatrixRun, resultsMarkdown, seriesMarkdown } from './results.js';
