// What the e2e tests read off the history panel (web/src/order-history-panel.ts), through the
// data-* attributes and test ids it promises, and what the API says the history is.

import type { Page } from 'playwright-core';

export const PANEL = '[data-testid="history-panel"]';
export const ENTRY = `${PANEL} [data-testid="history-entry"]`;

export interface EntryInDom {
  position: number;
  op: string;
  source: string;
  /** The badge's text: "API" or "SQL". */
  badge: string;
  /** "by postgres/psql" */
  actor: string;
  /** Per field: the value before (updates only) and after, as shown. */
  fields: Record<string, { before?: string; after: string }>;
}

type Node = {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  querySelector(selector: string): Node | null;
  querySelectorAll(selector: string): Iterable<Node>;
};

/** The panel's entries, top (newest) first. */
export async function historyEntries(page: Page): Promise<EntryInDom[]> {
  return page.$$eval(ENTRY, (items) =>
    items.map((item) => {
      const li = item as unknown as Node;
      const textOf = (selector: string) => li.querySelector(selector)?.textContent?.trim() ?? '';
      const fields: Record<string, { before?: string; after: string }> = {};
      for (const field of li.querySelectorAll('[data-testid="history-field"]')) {
        const before = field.querySelector('[data-testid="history-before"]')?.textContent ?? undefined;
        const after = field.querySelector('[data-testid="history-after"]')?.textContent ?? '';
        fields[field.dataset.field ?? ''] = before === undefined ? { after } : { before, after };
      }
      return {
        position: Number(li.dataset.position),
        op: li.dataset.op ?? '',
        source: li.dataset.source ?? '',
        badge: textOf('[data-testid="history-source"]'),
        actor: textOf('[data-testid="history-actor"]'),
        fields,
      };
    }),
  );
}

/** Positions GET /orders/:id/events answers, newest first (all of them: one big page). */
export async function historyInApi(url: string, id: number): Promise<number[]> {
  const response = await fetch(`${url}/orders/${id}/events?limit=1000`);
  if (!response.ok) throw new Error(`GET /orders/${id}/events answered ${response.status}`);
  const body = (await response.json()) as { events: { position: number }[] };
  return body.events.map((event) => event.position);
}

/** Whether the element `selector` finds has the keyboard focus. */
export async function hasFocus(page: Page, selector: string): Promise<boolean> {
  return (await page.locator(`${selector}:focus`).count()) === 1;
}
