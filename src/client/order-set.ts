// A model of the orders table: a snapshot (GET /orders) with the events after its position
// applied (invariant 8 of docs/design.md). Pure and synchronous: no I/O, so the rules that make
// snapshot and stream meet are unit-tested (test/unit/client-order-set.test.ts).

import type { Order, OrderEvent } from '../contract/events.js';

/** What one applied event did to the model; `null` from apply() means it changed nothing. */
export type AppliedChange =
  | { kind: 'truncate' }
  | { kind: 'insert'; order: Order }
  | { kind: 'update'; order: Order; previous: Order }
  | { kind: 'delete'; order: Order };

export interface OrderSet {
  /** Replaces everything with a snapshot (first load, or after `resync`). */
  load(orders: readonly Order[]): void;
  /** Applies one event where its version is newer than the row's; see the rules below. */
  apply(event: OrderEvent): AppliedChange | null;
  get(id: number): Order | undefined;
  values(): IterableIterator<Order>;
  readonly size: number;
}

export function createOrderSet(): OrderSet {
  const rows = new Map<number, Order>();
  // The version each deleted id died with. The stream is ordered, so an older event for a deleted
  // row can only come from an overlapping snapshot page; the tombstone keeps it from resurrecting
  // the row. Ids are never reused (identity column), so one number per deleted id is all it costs.
  const tombstones = new Map<number, number>();

  return {
    load(orders) {
      rows.clear();
      tombstones.clear();
      for (const order of orders) rows.set(order.id, order);
    },

    apply(event) {
      if (event.op === 'truncate') {
        rows.clear();
        tombstones.clear();
        return { kind: 'truncate' };
      }
      const { order, version } = event;
      if (!order || version === null) return null;
      const current = rows.get(order.id);
      // Not newer than what we hold: the snapshot (or an earlier event) already has it.
      if (current && current.version >= version) return null;
      if (!current && (tombstones.get(order.id) ?? 0) >= version) return null;
      if (event.op === 'delete') {
        tombstones.set(order.id, version);
        if (!current) return null;
        rows.delete(order.id);
        return { kind: 'delete', order: current };
      }
      // An update for an absent row inserts it: with a paged snapshot the row may have been read
      // after this event was captured and deleted since; the delete event follows and removes it.
      rows.set(order.id, order);
      return current ? { kind: 'update', order, previous: current } : { kind: 'insert', order };
    },

    get: (id) => rows.get(id),
    values: () => rows.values(),
    get size() {
      return rows.size;
    },
  };
}
