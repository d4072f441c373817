// The dashboard's per-frame bookkeeping of the live set's events and changes
// (web/src/pending-changes.ts), what the table shows (visible-orders.ts), and the contract values
// the page imports. The latency readouts' numbers: web-latency-stages.test.ts.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Order, OrderChange, OrderEvent } from '../../src/client/index.js';
import { projectPath } from '../../src/paths.js';
import { createPendingChanges } from '../../web/src/pending-changes.js';
import { type TableView, visibleOrders } from '../../web/src/visible-orders.js';

function order(id: number, patch: Partial<Order> = {}): Order {
  return {
    id,
    customer_name: `Customer ${id}`,
    product_name: 'Product',
    status: 'pending',
    version: 1,
    created_at: '2026-11-24T10:00:00Z',
    updated_at: '2026-11-24T10:00:00Z',
    ...patch,
  };
}

function update(position: number, id: number, changes: Record<string, [unknown, unknown]>): OrderEvent {
  return {
    position,
    op: 'update',
    order_id: id,
    version: position,
    order: order(id),
    changes,
    source: 'sql',
    actor: 'postgres/psql',
    txid: '1',
    occurred_at: '2026-11-24T10:00:00.000Z',
    published_at: null,
  };
}

describe('pending changes', () => {
  it('folds a frame of updates of one row into one change, first old value to last new one', () => {
    const pending = createPendingChanges(200, 1_000);
    const updated = (event: OrderEvent, live: boolean) => {
      pending.event(event, live, event.position * 10);
      pending.change({ kind: 'updated', event, previous: order(1) }, order(1));
    };
    updated(update(1, 1, { status: ['pending', 'processing'] }), true);
    updated(update(2, 1, { status: ['processing', 'shipped'] }), true);
    updated(update(3, 1, { customer_name: ['A', 'B'] }), false);
    const frame = pending.take();
    expect(frame.rows.get(1)).toEqual({
      kind: 'update',
      changes: { status: ['pending', 'shipped'], customer_name: ['A', 'B'] },
    });
    // Only live events count for latency, each with when it was captured and received.
    expect(frame.live).toEqual([
      { occurredAt: '2026-11-24T10:00:00.000Z', receivedAt: 10 },
      { occurredAt: '2026-11-24T10:00:00.000Z', receivedAt: 20 },
    ]);
    expect(pending.empty).toBe(true);
  });

  it('shows an order added and changed in one frame as new, and a removed one as deleted', () => {
    const pending = createPendingChanges(200, 1_000);
    pending.change({ kind: 'added', event: update(1, 1, {}), previous: undefined }, order(1));
    pending.change(
      { kind: 'updated', event: update(2, 1, { status: ['pending', 'shipped'] }), previous: order(1) },
      order(1),
    );
    pending.change({ kind: 'removed', event: update(3, 2, {}), previous: order(2) }, undefined);
    const frame = pending.take();
    expect(frame.rows).toEqual(
      new Map([
        [1, { kind: 'insert', changes: {} }],
        [2, { kind: 'delete', changes: {} }],
      ]),
    );
    expect(frame.feed).toEqual([]); // the feed is what event() recorded
  });

  it('keeps only the newest events for the feed, and a truncate drops the rows before it', () => {
    const pending = createPendingChanges(3, 1_000);
    const received = (event: OrderEvent, change: OrderChange, now: Order | undefined) => {
      pending.event(event, true, 0);
      pending.change(change, now);
    };
    for (let p = 1; p <= 10; p++) {
      const event = update(p, p, {});
      received(event, { kind: 'added', event, previous: undefined }, order(p));
    }
    const truncate = { ...update(11, 0, {}), op: 'truncate' as const, order: null, order_id: null };
    received(truncate, { kind: 'cleared', event: truncate, previous: undefined }, undefined);
    const last = update(12, 12, {});
    received(last, { kind: 'added', event: last, previous: undefined }, order(12));
    const frame = pending.take();
    expect(frame.feed.map((e) => e.position)).toEqual([10, 11, 12]);
    expect(frame.truncate?.position).toBe(11);
    expect([...frame.rows.keys()]).toEqual([12]);
  });

  it('drops the row changes on reset (a snapshot replaced the view) but keeps the feed and latency', () => {
    const pending = createPendingChanges(200, 1_000);
    const truncate = { ...update(1, 0, {}), op: 'truncate' as const, order: null, order_id: null };
    pending.event(truncate, true, 0);
    pending.change({ kind: 'cleared', event: truncate, previous: undefined }, undefined);
    const event = update(2, 2, {});
    pending.event(event, true, 0);
    pending.change({ kind: 'added', event, previous: undefined }, order(2));
    pending.reset();
    const frame = pending.take();
    expect(frame.rows.size).toBe(0);
    expect(frame.truncate).toBeNull();
    expect(frame.feed.map((e) => e.position)).toEqual([1, 2]);
    expect(frame.live).toHaveLength(2);
  });
});

describe('visible orders', () => {
  const orders = [
    order(1, { customer_name: 'Zoe', status: 'shipped', updated_at: '2026-11-24T10:00:03Z' }),
    order(2, { customer_name: 'adam', status: 'pending', updated_at: '2026-11-24T10:00:01.5+00:00' }),
    order(3, { customer_name: 'Bob', product_name: 'iPhone', status: 'cancelled' }),
  ];
  const view = (patch: Partial<TableView>): TableView => ({
    sort: 'id',
    descending: false,
    status: 'all',
    search: '',
    ...patch,
  });

  it('sorts by a column, statuses in workflow order, timestamps as instants', () => {
    expect(visibleOrders(orders, view({ sort: 'customer_name' }), 10).ids).toEqual([2, 3, 1]);
    expect(visibleOrders(orders, view({ sort: 'status' }), 10).ids).toEqual([2, 1, 3]);
    expect(visibleOrders(orders, view({ sort: 'updated_at', descending: true }), 10).ids).toEqual([1, 2, 3]);
  });

  it('filters by status and searches id, customer and product', () => {
    expect(visibleOrders(orders, view({ status: 'shipped' }), 10).ids).toEqual([1]);
    expect(visibleOrders(orders, view({ search: 'IPHONE' }), 10).ids).toEqual([3]);
    expect(visibleOrders(orders, view({ search: '#2' }), 10).ids).toEqual([2]);
  });

  it('draws at most `limit` rows and says how many match', () => {
    expect(visibleOrders(orders, view({}), 2)).toEqual({ ids: [1, 2], matching: 3 });
  });
});

describe('contract values in web/', () => {
  it('come from a module of the contract that imports nothing (so no zod in the bundle)', () => {
    const values = readFileSync(projectPath('web', 'src', 'contract-values.ts'), 'utf8');
    expect(values).toMatch(/from '\.\.\/\.\.\/src\/contract\/constants\.js'/);
    const constants = readFileSync(projectPath('src', 'contract', 'constants.ts'), 'utf8');
    expect(constants).not.toMatch(/^import /m);
  });
});
