// What the e2e tests read off the dashboard, through the data-* attributes it promises
// (data-testid, data-order-id, data-status, data-version, data-source, data-state).

import type { Page } from 'playwright-core';

/**
 * The browser globals the tests' page.evaluate callbacks touch. The root tsconfig has no DOM
 * lib (src/ runs in Node); callbacks cast `globalThis` to this instead.
 */
export type PageGlobals = {
  document: { documentElement: { scrollWidth: number } };
  innerWidth: number;
  localStorage: { getItem(key: string): string | null };
  getComputedStyle(element: unknown): { outlineStyle: string; outlineWidth: string };
  PerformanceObserver: new (
    callback: (list: { getEntries(): { duration: number }[] }) => void,
  ) => { observe(options: { type: string }): void };
  /** Set by a test; still there later means the page was not reloaded. */
  stillTheSamePage?: boolean;
  /** Durations of the long tasks (> 50 ms) seen since a test started observing. */
  longTasks?: number[];
  /** Connection states shown since recordStates(). */
  states?: string[];
  MutationObserver: new (
    callback: () => void,
  ) => { observe(target: unknown, options: { attributes: boolean; attributeFilter: string[] }): void };
};

type DataElement = { dataset: Record<string, string | undefined> };

/** Starts recording every connection state the page shows; read them with `recordedStates`. */
export async function recordStates(page: Page): Promise<void> {
  await page.$eval('[data-testid="connection"]', (box) => {
    const g = globalThis as unknown as PageGlobals;
    const states: string[] = [];
    g.states = states;
    new g.MutationObserver(() => {
      const state = (box as unknown as DataElement).dataset.state ?? '';
      if (states.at(-1) !== state) states.push(state);
    }).observe(box, { attributes: true, attributeFilter: ['data-state'] });
  });
}

export async function recordedStates(page: Page): Promise<string[]> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).states ?? []);
}

/** The token the page keeps in localStorage (token-field.ts), or null. */
export async function storedToken(page: Page): Promise<string | null> {
  return page.evaluate(() =>
    (globalThis as unknown as PageGlobals).localStorage.getItem('orders-live.token'),
  );
}

export interface RowInDom {
  id: number;
  status: string;
  version: number;
}

export type ConnectionStateName =
  | 'connecting'
  | 'replaying'
  | 'live'
  | 'reconnecting'
  | 'resyncing'
  | 'unauthorized'
  | 'refused';

export async function waitForState(
  page: Page,
  state: ConnectionStateName,
  timeoutMs = 20_000,
): Promise<void> {
  try {
    await page.waitForSelector(`[data-testid="connection"][data-state="${state}"]`, { timeout: timeoutMs });
  } catch (e) {
    const box = page.locator('[data-testid="connection"]');
    const shown = `${await box.getAttribute('data-state')} (${await box.getAttribute('title')})`;
    throw new Error(`the page did not show "${state}" within ${timeoutMs} ms; it shows ${shown}`, {
      cause: e,
    });
  }
}

export function rowSelector(id: number, attributes: { status?: string; version?: number } = {}): string {
  let selector = `tr[data-order-id="${id}"]`;
  if (attributes.status) selector += `[data-status="${attributes.status}"]`;
  if (attributes.version !== undefined) selector += `[data-version="${attributes.version}"]`;
  return selector;
}

/** Every live row of the table (rows fading out after a delete have no data-order-id), by id. */
export async function rowsInDom(page: Page): Promise<RowInDom[]> {
  const rows = await page.$$eval('[data-testid="orders-body"] tr[data-order-id]', (trs) =>
    trs.map((tr) => {
      const { dataset } = tr as unknown as DataElement;
      return { id: Number(dataset.orderId), status: dataset.status ?? '', version: Number(dataset.version) };
    }),
  );
  return rows.sort((a, b) => a.id - b.id);
}

export async function text(page: Page, testId: string): Promise<string> {
  return (await page.textContent(`[data-testid="${testId}"]`))?.trim() ?? '';
}

/** Feed items' positions, top (newest) first. */
export async function feedPositions(page: Page): Promise<number[]> {
  return page.$$eval('[data-testid="feed-item"]', (items) =>
    items.map((li) => Number((li as unknown as DataElement).dataset.position)),
  );
}

/** How Chromium's accessibility tree presents a form control: what a screen reader announces. */
export interface AccessibleControl {
  name: string;
  description: string;
  invalid: boolean;
  focused: boolean;
}

/** The accessibility node of the element `selector` finds, read through the DevTools protocol. */
export async function accessibleControl(page: Page, selector: string): Promise<AccessibleControl> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    if (!nodeId) throw new Error(`no element matches ${selector}`);
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
    const node = nodes[0];
    const property = (name: string) => node?.properties?.find((p) => p.name === name)?.value.value;
    const invalid = property('invalid');
    return {
      name: String(node?.name?.value ?? ''),
      description: String(node?.description?.value ?? ''),
      invalid: invalid !== undefined && invalid !== 'false',
      focused: property('focused') === true,
    };
  } finally {
    await cdp.detach();
  }
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The element's box on the page, in CSS pixels; fails when it is not rendered. */
export async function boxOf(page: Page, selector: string): Promise<Box> {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not rendered`);
  return box;
}

/** `inner` lies within `outer`, give or take `slackPx` (sub-pixel rounding). */
export function isWithin(inner: Box, outer: Box, slackPx = 0.5): boolean {
  return (
    inner.x >= outer.x - slackPx &&
    inner.y >= outer.y - slackPx &&
    inner.x + inner.width <= outer.x + outer.width + slackPx &&
    inner.y + inner.height <= outer.y + outer.height + slackPx
  );
}

export function verticalCenter(box: Box): number {
  return box.y + box.height / 2;
}
