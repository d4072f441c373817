// The snapshot half of "snapshot meets stream" (docs/design.md, invariant 8): every page of
// GET /orders and the event position to resume the stream from.

import type { Order } from '../../src/contract/events.js';
import type { ApiClient } from './api-client.js';

/** The API's largest page: fewest round trips for a big table. */
export const SNAPSHOT_PAGE_LIMIT = 1_000;

export interface Snapshot {
  orders: Order[];
  /** Resume the stream after this position. */
  position: number;
}

/**
 * Follows `next` until null. Each page is its own consistent read with its own position; the
 * stream resumes after the FIRST (lowest) one. Later pages may already show changes whose events
 * come after it: those events carry versions that are not newer, so they are skipped; rows a later
 * page no longer has were deleted, and their delete events follow in the stream.
 */
export async function loadSnapshot(api: ApiClient): Promise<Snapshot> {
  const orders: Order[] = [];
  let position: number | undefined;
  let after = 0;
  for (;;) {
    const page = await api.listPage(after, SNAPSHOT_PAGE_LIMIT);
    orders.push(...page.orders);
    position = Math.min(position ?? page.position, page.position);
    if (page.next === null) return { orders, position };
    after = page.next;
  }
}
