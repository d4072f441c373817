// A reference model for the client's tests: the orders table and its change log, grown by
// random choices, with the snapshot at the head and the table as it was at any position.

import { ORDER_STATUSES, type Order, type OrderEvent } from '../../src/contract/events.js';
import { orderEvent, orderRow } from './events.js';

/** The orders table and its change log: position p is events[p - 1]. */
export class OrderLog {
  events: OrderEvent[] = [];
  private rows = new Map<number, Order>();
  private nextId = 1;

  get head(): number {
    return this.events.length;
  }

  /** One change chosen by `choice % 10`: 0–3 insert, 4–7 update, 8 delete (of an existing row, else insert), 9 truncate. */
  commit(choice: number): void {
    const existing = [...this.rows.values()];
    const target = existing[Math.floor(choice / 10) % Math.max(1, existing.length)];
    const kind = choice % 10;
    const status = ORDER_STATUSES[choice % ORDER_STATUSES.length]!;
    const position = this.head + 1;
    if (kind === 9) {
      this.rows.clear();
      this.events.push(orderEvent(position, 'truncate', null));
    } else if (target && kind >= 4) {
      const next = { ...target, status, version: target.version + 1 };
      if (kind === 8) this.rows.delete(target.id);
      else this.rows.set(target.id, next);
      this.events.push(
        orderEvent(position, kind === 8 ? 'delete' : 'update', kind === 8 ? target : next, next.version),
      );
    } else {
      const row = orderRow(this.nextId++, 1, status);
      this.rows.set(row.id, row);
      this.events.push(orderEvent(position, 'insert', row));
    }
  }

  snapshot() {
    return { orders: [...this.rows.values()], position: this.head };
  }

  /** The table as it was at `position`. */
  tableAt(position: number): Order[] {
    const rows = new Map<number, Order>();
    for (const event of this.events.slice(0, position)) {
      if (event.op === 'truncate') rows.clear();
      else if (event.op === 'delete') rows.delete(event.order!.id);
      else rows.set(event.order!.id, event.order!);
    }
    return [...rows.values()];
  }
}
