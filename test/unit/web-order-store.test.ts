// The dashboard's model (web/src/order-store.ts): invariant 8 of docs/design.md from the page's
// side — an event applies only where its version is newer; deletes remove, truncate clears,
// counters follow.

import { describe, expect, it } from 'vitest';
import type { Order, OrderEvent, OrderStatus } from '../../src/contract/events.js';
import { createOrderStore } from '../../web/src/order-store.js';

let position = 0;

function order(id: number, version: number, status: OrderStatus = 'pending'): Order {
  return {
    id,
    customer_name: `Customer ${id}`,
    product_name: 'Product',
    status,
    version,
    created_at: '2026-11-24T10:00:00.000Z',
    updated_at: '2026-11-24T10:00:00.000Z',
  };
}

function event(op: OrderEvent['op'], row: Order | null, version = row?.version ?? null): OrderEvent {
  position += 1;
  return {
    position,
    op,
    order_id: row?.id ?? null,
    version,
    order: row,
    changes: null,
    source: 'sql',
    actor: 'postgres/psql',
    txid: '1',
    occurred_at: '2026-11-24T10:00:00.123456Z',
    published_at: '2026-11-24T10:00:00.125Z',
  };
}

describe('order store', () => {
  it('applies an update only when its version is newer than the row', () => {
    const store = createOrderStore();
    store.load([order(1, 3)]);
    expect(store.apply(event('update', order(1, 3, 'shipped')))).toBeNull();
    expect(store.apply(event('update', order(1, 2, 'cancelled')))).toBeNull();
    expect(store.get(1)?.status).toBe('pending');
    const applied = store.apply(event('update', order(1, 4, 'shipped')));
    expect(applied).toMatchObject({ kind: 'update', previous: { version: 3 }, order: { version: 4 } });
    expect(store.get(1)?.status).toBe('shipped');
  });

  it('inserts an absent row, from an insert or an update event', () => {
    const store = createOrderStore();
    expect(store.apply(event('insert', order(1, 1)))?.kind).toBe('insert');
    expect(store.apply(event('update', order(2, 5)))?.kind).toBe('insert');
    expect(store.size).toBe(2);
  });

  it('removes a row on a delete tombstone (version = last + 1), and an older event cannot bring it back', () => {
    const store = createOrderStore();
    store.load([order(1, 2)]);
    const deleted = store.apply(event('delete', order(1, 2), 3));
    expect(deleted).toMatchObject({ kind: 'delete', order: { id: 1 } });
    expect(store.get(1)).toBeUndefined();
    expect(store.apply(event('update', order(1, 2)))).toBeNull();
    expect(store.get(1)).toBeUndefined();
  });

  it('ignores a delete that is not newer than the row (the snapshot already has a later row)', () => {
    const store = createOrderStore();
    store.load([order(1, 5)]);
    expect(store.apply(event('delete', order(1, 3), 4))).toBeNull();
    expect(store.get(1)?.version).toBe(5);
  });

  it('clears everything on truncate, tombstones included', () => {
    const store = createOrderStore();
    store.load([order(1, 1), order(2, 1, 'shipped')]);
    store.apply(event('delete', order(1, 1), 2));
    expect(store.apply(event('truncate', null))).toEqual({ kind: 'truncate' });
    expect(store.size).toBe(0);
    expect(store.counts()).toEqual({ pending: 0, processing: 0, shipped: 0, delivered: 0, cancelled: 0 });
  });

  it('keeps the counters per status in step with every change', () => {
    const store = createOrderStore();
    store.load([order(1, 1), order(2, 1), order(3, 1, 'shipped')]);
    store.apply(event('update', order(1, 2, 'shipped')));
    store.apply(event('delete', order(2, 1), 2));
    store.apply(event('insert', order(4, 1, 'cancelled')));
    expect(store.counts()).toEqual({ pending: 0, processing: 0, shipped: 2, delivered: 0, cancelled: 1 });
    expect(store.size).toBe(3);
  });

  it('meets a paged snapshot: events after the first page position make the table current', () => {
    // Page 1 (ids 1-2) read at position P; then order 3 changed (v2) and was deleted (v3); then
    // page 2 (ids 3-4) was read, without order 3 and with order 4 at v2 already.
    const store = createOrderStore();
    store.load([order(1, 1), order(2, 1), order(4, 2)]);
    store.apply(event('update', order(3, 2, 'processing')));
    store.apply(event('delete', order(3, 2), 3));
    store.apply(event('update', order(4, 2, 'shipped'))); // already in page 2
    store.apply(event('update', order(1, 2, 'delivered')));
    expect([...store.values()].map((o) => [o.id, o.version]).sort()).toEqual([
      [1, 2],
      [2, 1],
      [4, 2],
    ]);
  });
});
