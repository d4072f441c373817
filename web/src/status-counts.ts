// Orders per status, for the counters. The live set (src/client) keeps no counts, so the page keeps
// them: one step per change of the view, recounted from every order when the view is replaced (a
// snapshot). Pure, no DOM (test/unit/web-status-counts.test.ts).

import type { Order, OrderChange, OrderStatus } from '../../src/client/index.js';
import { ORDER_STATUSES } from './contract-values.js';

export type CountsByStatus = Record<OrderStatus, number>;

export interface StatusCounts {
  /** Follows one change; `order` is the order now, undefined when it left the view. */
  change(change: OrderChange, order: Order | undefined): void;
  /** Counts `orders` afresh: the view was replaced. */
  reset(orders: Iterable<Order>): void;
  /** The counts now (the same object until the next reset or truncate). */
  readonly current: Readonly<CountsByStatus>;
}

export function createStatusCounts(): StatusCounts {
  let counts = zeroCounts();
  return {
    change({ kind, previous }, order) {
      if (kind === 'cleared') {
        counts = zeroCounts();
        return;
      }
      // added: no previous; removed: no order now; updated: both, the status possibly the same.
      if (previous) counts[previous.status] -= 1;
      if (order) counts[order.status] += 1;
    },
    reset(orders) {
      counts = zeroCounts();
      for (const order of orders) counts[order.status] += 1;
    },
    get current() {
      return counts;
    },
  };
}

function zeroCounts(): CountsByStatus {
  return Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as CountsByStatus;
}
