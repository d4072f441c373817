// The dashboard under a burst: 1,000 inserts, then 5 bulk UPDATEs over the 1,000 rows (5,000
// events within a second or so). The page applies every event and renders once per frame; at the
// end every row in the DOM has exactly the status and version the database has, and the live
// chart's bars add up to every event the page received (its cost is printed: "[chart] …").

import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import type { DashboardBrowser } from './browser.js';
import { feedPositions, type PageGlobals, rowsInDom, text } from './dashboard-page.js';
import { orderRows, useDashboard } from './system.js';

const ROWS = 1_000;
const UPDATES = 5;
/** Status number (n + k) % 5 as SQL: step k gives every row a status other than step k - 1's. */
const STATUS_OF = (n: string, k: number) =>
  `(ARRAY['pending','processing','shipped','delivered','cancelled'])[1 + (${n} + ${k}) % 5]`;
/** When the burst's first statement was sent and when all of it was on screen (Date.now()). */
const burst = { started: 0, shown: 0 };

const dash = useDashboard({ live: true });

const dbRows = () => orderRows(dash.psql);

/** Waits until the table shows exactly the database's rows; on timeout, says how far apart. */
async function expectTableMatchesDatabase(page: DashboardBrowser['page'], timeoutMs: number): Promise<void> {
  let mismatch = '';
  await waitFor(
    async () => {
      const [shown, stored] = await Promise.all([rowsInDom(page), dbRows()]);
      const differing = stored.filter((row, i) => JSON.stringify(row) !== JSON.stringify(shown[i]));
      mismatch = `${shown.length} rows shown, ${stored.length} stored, ${differing.length} differ (first: ${JSON.stringify(differing[0])})`;
      return shown.length === stored.length && differing.length === 0;
    },
    { timeoutMs, intervalMs: 250, what: `the table to match the database (${mismatch})` },
  );
}

describe('a burst of 5,000 updates', () => {
  it('ends with every row exactly as in the database', async () => {
    const { page } = dash.browser;
    await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const longTasks: number[] = [];
      g.longTasks = longTasks;
      new g.PerformanceObserver((list) => {
        for (const entry of list.getEntries()) longTasks.push(entry.duration);
      }).observe({ type: 'longtask' });
    });
    const insertStarted = Date.now();
    burst.started = insertStarted;
    await dash.psql.query(
      `INSERT INTO orders (customer_name, product_name, status)
       SELECT 'Customer ' || i, 'Product ' || (i % 13), ${STATUS_OF('i', 0)} FROM generate_series(1, ${ROWS}) i`,
    );
    await expectTableMatchesDatabase(page, 30_000);
    const inserted = Date.now() - insertStarted;
    const insertTasks = await page.evaluate(
      () => (globalThis as unknown as PageGlobals).longTasks?.splice(0) ?? [],
    );

    const started = Date.now();
    // Each statement moves every row to a status it did not have: 1,000 real changes each.
    for (let k = 1; k <= UPDATES; k++) {
      await dash.psql.query(`UPDATE orders SET status = ${STATUS_OF('id', k)}`);
    }
    const written = Date.now() - started;
    await expectTableMatchesDatabase(page, 60_000);
    const shown = Date.now() - started;
    burst.shown = Date.now();

    const rows = await dbRows();
    expect(rows.every((r) => r.version === UPDATES + 1)).toBe(true);
    expect(await text(page, 'count-total')).toBe(ROWS.toLocaleString('en-US'));
    const positions = await feedPositions(page);
    expect(positions.length).toBe(200);
    expect(positions[0]).toBe(ROWS + ROWS * UPDATES);
    const longTasks = await page.evaluate(() => (globalThis as unknown as PageGlobals).longTasks ?? []);
    const longest = (tasks: number[]) => Math.round(Math.max(0, ...tasks));
    console.log(
      `burst: ${ROWS} inserts on screen after ${inserted} ms (longest task ${longest(insertTasks)} ms); ` +
        `${ROWS * UPDATES} updates written in ${written} ms, all on screen after ${shown} ms; ` +
        `long tasks: ${longTasks.length}, longest ${longest(longTasks)} ms; ` +
        `latency p50 ${await text(page, 'latency-p50')}, p99 ${await text(page, 'latency-p99')}`,
    );
  });

  it('draws every event of the burst in the live chart, in the seconds after they came', async () => {
    const { page } = dash.browser;
    const chart = '[data-testid="chart"]';
    const received = ROWS + ROWS * UPDATES; // each once: the page's feed ends at this position
    // The chart draws a second once it is over: the last one of the burst within a second or so.
    let drawn = 0;
    await waitFor(
      async () => {
        drawn = Number(await page.getAttribute(chart, 'data-events'));
        return drawn === received;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `the chart's bars to add up to ${received} (${drawn})` },
    );
    const cost = await page.$eval(chart, (figure) => {
      const data = (figure as unknown as { dataset: Record<string, string> }).dataset;
      return {
        draws: Number(data.draws),
        drawMs: Number(data.drawMs),
        drawMaxMs: Number(data.drawMaxMs),
        records: Number(data.records),
        recordMs: Number(data.recordMs),
      };
    });
    expect(await text(page, 'chart-summary')).toMatch(/events\/s on average/);
    const spent = cost.drawMs + cost.recordMs;
    const burstMs = burst.shown - burst.started;
    console.log(
      `[chart] ${received} events, all in its bars; main thread in the chart since the page opened: ` +
        `${spent.toFixed(1)} ms (${cost.draws} draws: ${cost.drawMs.toFixed(1)} ms, the longest ` +
        `${cost.drawMaxMs.toFixed(2)} ms; ${cost.records} frames counted: ${cost.recordMs.toFixed(1)} ms), ` +
        `${((100 * spent) / burstMs).toFixed(2)}% of the ${burstMs} ms from the first insert to the last update on screen`,
    );
  });

  it('loaded nothing from outside and raised no page error', () => {
    expect(dash.browser.external).toEqual([]);
    expect(dash.browser.errors).toEqual([]);
  });
});
