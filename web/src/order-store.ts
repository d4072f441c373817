// The dashboard's model of the orders table: a snapshot (GET /orders) with the events after its
// position applied (docs/design.md, invariant 8). Pure and synchronous: no DOM, no I/O, so the
// rules that make snapshot and stream meet are unit-tested (test/unit/web-order-store.test.ts).

import type { Order, OrderEvent, OrderStatus } from '../../src/contract/events.js';
import { ORDER_STATUSES } from './contract-values.js';

/** What one applied event did to the model; `null` from apply() means it changed nothing. */
export type AppliedChange =
  | { kind: 'truncate' }
  | { kind: 'insert'; order: Order }
  | { kind: 'update'; order: Order; previous: Order }
  | { kind: 'delete'; order: Order };

export interface OrderStore {
  /** Replaces everything with a snapshot (first load, or after `resync`). */
  load(orders: readonly Order[]): void;
  /** Applies one event where its version is newer than the row's; see the rules below. */
  apply(event: OrderEvent): AppliedChange | null;
  get(id: number): Order | undefined;
  values(): IterableIterator<Order>;
  readonly size: number;
  /** Rows per status, kept up to date on every change (the counters read it each frame). */
  counts(): Readonly<Record<OrderStatus, number>>;
}

export function createOrderStore(): OrderStore {
  const rows = new Map<number, Order>();
  // The version each deleted id died with. The stream is ordered, so an older event for a deleted
  // row can only come from an overlapping replay; the tombstone keeps it from resurrecting the row.
  // Ids are never reused (identity column), so one number per deleted id is all it costs.
  const tombstones = new Map<number, number>();
  let counts = emptyCounts();

  function put(order: Order, previous: Order | undefined): void {
    if (previous) counts[previous.status] -= 1;
    counts[order.status] += 1;
    rows.set(order.id, order);
  }

  return {
    load(orders) {
      rows.clear();
      tombstones.clear();
      counts = emptyCounts();
      for (const order of orders) put(order, rows.get(order.id));
    },

    apply(event) {
      if (event.op === 'truncate') {
        rows.clear();
        tombstones.clear();
        counts = emptyCounts();
        return { kind: 'truncate' };
      }
      const { order, version } = event;
      if (!order || version === null) return null;
      const current = rows.get(order.id);
      // Not newer than what we show: the snapshot (or an earlier event) already has it.
      if (current && current.version >= version) return null;
      if (!current && (tombstones.get(order.id) ?? 0) >= version) return null;
      if (event.op === 'delete') {
        tombstones.set(order.id, version);
        if (!current) return null;
        rows.delete(order.id);
        counts[current.status] -= 1;
        return { kind: 'delete', order: current };
      }
      // An update for an absent row inserts it: with a paged snapshot the row may have been read
      // after this event was captured and deleted since; the delete event follows and removes it.
      put(order, current);
      return current ? { kind: 'update', order, previous: current } : { kind: 'insert', order };
    },

    get: (id) => rows.get(id),
    values: () => rows.values(),
    get size() {
      return rows.size;
    },
    counts: () => counts,
  };
}

function emptyCounts(): Record<OrderStatus, number> {
  return Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
}
