// One order's history as the history panel holds it: the events of pages of
// GET /orders/:id/events and those the live set delivers while the panel is open, merged by
// position (each once, newest first) whatever order they come in, and the cursor of the next
// older page. Pure, no DOM (test/unit/web-order-history.test.ts).
//
// Nothing is lost between the two sources because the panel listens to the live set before it
// asks for the first page: an event published after the page was read reaches the listener, one
// published before is in the page, and one in both is kept once.

import type { OrderEvent } from '../../src/contract/events.js';

/** A page of GET /orders/:id/events: newest first; `next` is the `before` of the older page. */
export interface HistoryPage {
  events: readonly OrderEvent[];
  next: number | null;
}

export interface OrderHistory {
  readonly orderId: number;
  /** Newest first, each position once. */
  readonly events: readonly OrderEvent[];
  /**
   * The `before` of the next older page: undefined until the first page came, null once the
   * oldest was loaded.
   */
  readonly older: number | null | undefined;
  /** Adds a page that was asked for with `before` (undefined: the first page); returns what it added. */
  addPage(page: HistoryPage, before: number | undefined): OrderEvent[];
  /** Adds the live set's events (of any order: others are ignored); returns what they added. */
  addLive(events: readonly OrderEvent[]): OrderEvent[];
}

export function createOrderHistory(orderId: number): OrderHistory {
  let events: OrderEvent[] = [];
  let older: number | null | undefined;
  const positions = new Set<number>();

  function merge(incoming: readonly OrderEvent[]): OrderEvent[] {
    const added: OrderEvent[] = [];
    for (const event of incoming) {
      if (event.order_id !== orderId || positions.has(event.position)) continue;
      positions.add(event.position);
      added.push(event);
    }
    if (added.length === 0) return added;
    added.sort(newestFirst);
    // The common cases need no sort: live events are newer than all, an older page older than all.
    const first = events[0];
    const last = events.at(-1);
    if (!first || added.at(-1)!.position > first.position) events = [...added, ...events];
    else if (last && added[0]!.position < last.position) events = [...events, ...added];
    else events = [...events, ...added].sort(newestFirst);
    return added;
  }

  return {
    orderId,
    get events() {
      return events;
    },
    get older() {
      return older;
    },
    addPage(page, before) {
      // An answer for another cursor than the current one (asked twice) moves no cursor.
      if (before === older) older = page.next;
      return merge(page.events);
    },
    addLive: merge,
  };
}

function newestFirst(a: OrderEvent, b: OrderEvent): number {
  return b.position - a.position;
}
