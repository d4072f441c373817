// The header's latency readout in real Chromium against the real system: after live psql updates
// it shows commit → screen and, of it, the page's own stage, socket → screen, over the same
// events; the stage can never read more than the whole while browser and server share a clock.
// No figure is compared with a fixed number: only the two measures with each other.

import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { rowSelector, text } from './dashboard-page.js';
import { useDashboard } from './system.js';

/** Single updates, each drawn before the next is written: the idle case the readout is read in. */
const UPDATES = 8;

const dash = useDashboard({
  seed: `INSERT INTO orders (customer_name, product_name, status)
     SELECT 'Customer ' || i, 'Product ' || i, 'pending' FROM generate_series(1, ${UPDATES}) i`,
  live: true,
});

/** A figure as the readout writes it (format.ts: "12 ms", "1.2 s"), in ms. */
function ms(shown: string): number {
  const match = /^(\d+(?:\.\d)?) (ms|s)$/.exec(shown);
  if (!match) throw new Error(`"${shown}" is not a duration`);
  return Number(match[1]) * (match[2] === 's' ? 1_000 : 1);
}

describe('the latency readout', () => {
  it('shows no figure before a live event was drawn', async () => {
    const { page } = dash.browser;
    for (const figure of ['latency-p50', 'latency-p99', 'socket-p50', 'socket-p99'])
      expect(await text(page, figure), figure).toBe('–');
  });

  it('shows socket → screen after live updates, never above commit → screen', async () => {
    const { page } = dash.browser;
    for (let id = 1; id <= UPDATES; id++) {
      await dash.psql.query("UPDATE orders SET status = 'shipped' WHERE id = $1", [id]);
      await page.waitForSelector(rowSelector(id, { status: 'shipped', version: 2 }), { timeout: 5_000 });
    }
    // The readout follows the frames it measures, at most every 250 ms: wait until it counts all.
    const all = `over the last ${UPDATES} live events`;
    let title: string | null = null;
    await waitFor(
      async () => {
        title = await page.getAttribute('[data-testid="latency"]', 'title');
        return title === all;
      },
      { timeoutMs: 5_000, what: `the readout to be "${all}" (it is "${title}")` },
    );
    const commit = { p50: ms(await text(page, 'latency-p50')), p99: ms(await text(page, 'latency-p99')) };
    const socket = { p50: ms(await text(page, 'socket-p50')), p99: ms(await text(page, 'socket-p99')) };
    const shown = JSON.stringify({ commit, socket });
    expect(socket.p50, shown).toBeLessThanOrEqual(commit.p50);
    expect(socket.p99, shown).toBeLessThanOrEqual(commit.p99);
    expect(socket.p50, shown).toBeLessThanOrEqual(socket.p99);
    const readout = (await text(page, 'latency')).replace(/\s+/g, ' ');
    console.log(`[latency] ${UPDATES} single psql updates: ${readout}`);
  });

  it('reads as one sentence, not announced on every change', async () => {
    const { page } = dash.browser;
    const sentence = (await text(page, 'latency')).replace(/\s+/g, ' ');
    expect(sentence).toMatch(
      /^commit → screen p50 \S+ m?s · p99 \S+ m?s, of which socket → screen p50 \S+ m?s · p99 \S+ m?s$/,
    );
    const abbreviations = await page.$$eval('[data-testid="latency"] abbr', (found) =>
      found.map((abbr) => `${abbr.textContent}: ${abbr.getAttribute('title')}`),
    );
    expect(abbreviations).toEqual([
      'p50: median',
      'p99: 99th percentile',
      'p50: median',
      'p99: 99th percentile',
    ]);
    // Only the connection state is a live region; figures that change with every event are not.
    expect(await page.locator('[data-testid="latency"] [aria-live]').count()).toBe(0);
    expect(await page.locator('[aria-live]:has([data-testid="latency"])').count()).toBe(0);
  });

  it('loaded nothing from outside and raised no page error', () => {
    expect(dash.browser.external).toEqual([]);
    expect(dash.browser.errors).toEqual([]);
  });
});
