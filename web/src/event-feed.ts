// The event feed: the newest events first, each with its op, where it came from (api or sql, and
// who), what it changed and when. Capped at FEED_LIMIT items: older ones drop off the bottom, so a
// day of events costs the same DOM as a minute. An order's number is a button that opens its
// history, deleted orders' too (one listener for the whole list).

import type { OrderEvent } from '../../src/contract/events.js';
import { el } from './dom.js';
import { describeChanges, formatTime } from './format.js';

export const FEED_LIMIT = 200;

export interface EventFeed {
  /** Adds events (oldest first) at the top; at most FEED_LIMIT are kept in all. */
  add(events: readonly OrderEvent[]): void;
}

export function createEventFeed(
  list: HTMLElement,
  onHistory: (id: number, opener: HTMLElement) => void,
  limit = FEED_LIMIT,
): EventFeed {
  list.addEventListener('click', (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>('button[data-action="history"]');
    const id = Number(button?.dataset.orderId);
    if (button && Number.isSafeInteger(id)) onHistory(id, button);
  });
  return {
    add(events) {
      if (events.length === 0) return;
      const fragment = document.createDocumentFragment();
      for (let i = events.length - 1; i >= Math.max(0, events.length - limit); i -= 1) {
        fragment.append(feedItem(events[i]!));
      }
      list.prepend(fragment);
      while (list.childElementCount > limit) list.lastElementChild?.remove();
    },
  };
}

function feedItem(event: OrderEvent): HTMLLIElement {
  return el(
    'li',
    {
      className: 'feed-item',
      'data-testid': 'feed-item',
      'data-position': event.position,
      'data-op': event.op,
      'data-source': event.source,
      'data-order-id': event.order_id ?? undefined,
    },
    el('time', { dateTime: event.occurred_at, className: 'feed-time' }, formatTime(event.occurred_at)),
    el('span', { className: `op op-${event.op}` }, event.op),
    target(event),
    el(
      'span',
      { className: 'source', 'data-source': event.source, title: `source: ${event.source}` },
      event.source,
    ),
    el('span', { className: 'actor' }, event.actor),
    el('span', { className: 'feed-changes' }, details(event)),
  );
}

function target(event: OrderEvent): HTMLElement {
  if (event.order_id === null) return el('span', { className: 'target' }, 'all orders');
  return el(
    'button',
    {
      type: 'button',
      className: 'target order-link',
      'data-action': 'history',
      'data-order-id': event.order_id,
      'aria-label': `History of order #${event.order_id}`,
    },
    `#${event.order_id}`,
  );
}

function details(event: OrderEvent): string {
  if (event.op === 'update' && event.changes) return describeChanges(event.changes);
  if (event.order && event.op === 'insert')
    return `${event.order.customer_name} · ${event.order.product_name} · ${event.order.status}`;
  if (event.order && event.op === 'delete') return `was ${event.order.status}, v${event.order.version}`;
  return '';
}
