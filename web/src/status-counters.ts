// Orders per status, and in all: one <li> per status, written only when its number changed.

import type { OrderStatus } from '../../src/contract/events.js';
import { ORDER_STATUSES } from './contract-values.js';
import { el, setText } from './dom.js';

export interface StatusCounters {
  update(counts: Readonly<Record<OrderStatus, number>>, total: number): void;
}

export function createStatusCounters(list: HTMLElement): StatusCounters {
  const values = new Map<OrderStatus | 'total', HTMLElement>();
  for (const status of [...ORDER_STATUSES, 'total'] as const) {
    const value = el('span', { className: 'count-value', 'data-testid': `count-${status}` }, '0');
    values.set(status, value);
    list.append(
      el(
        'li',
        { className: 'count', 'data-status': status },
        el('span', { className: 'count-label' }, status === 'total' ? 'all orders' : status),
        value,
      ),
    );
  }
  return {
    update(counts, total) {
      for (const status of ORDER_STATUSES) setText(values.get(status)!, counts[status].toLocaleString());
      setText(values.get('total')!, total.toLocaleString());
    },
  };
}
