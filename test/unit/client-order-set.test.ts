// The client library's model (src/client/order-set.ts): invariant 8 of docs/design.md from the
// client's side — an event applies only where its version is newer; deletes remove, truncate
// clears. (The dashboard's counts per status: web-status-counts.test.ts.)

import { describe, expect, it } from 'vitest';
import { createOrderSet } from '../../src/client/order-set.js';
import type { Order, OrderEvent } from '../../src/contract/events.js';
import { orderEvent, orderRow } from '../helpers/events.js';

let position = 0;

const order = orderRow;
const event = (op: OrderEvent['op'], row: Order | null, version = row?.version ?? null) =>
  orderEvent(++position, op, row, version);

describe('order set', () => {
  it('applies an update only when its version is newer than the row', () => {
    const set = createOrderSet();
    set.load([order(1, 3)]);
    expect(set.apply(event('update', order(1, 3, 'shipped')))).toBeNull();
    expect(set.apply(event('update', order(1, 2, 'cancelled')))).toBeNull();
    expect(set.get(1)?.status).toBe('pending');
    const applied = set.apply(event('update', order(1, 4, 'shipped')));
    expect(applied).toMatchObject({ kind: 'update', previous: { version: 3 }, order: { version: 4 } });
    expect(set.get(1)?.status).toBe('shipped');
  });

  it('inserts an absent row, from an insert or an update event', () => {
    const set = createOrderSet();
    expect(set.apply(event('insert', order(1, 1)))?.kind).toBe('insert');
    expect(set.apply(event('update', order(2, 5)))?.kind).toBe('insert');
    expect(set.size).toBe(2);
  });

  it('removes a row on a delete tombstone (version = last + 1), and an older event cannot bring it back', () => {
    const set = createOrderSet();
    set.load([order(1, 2)]);
    const deleted = set.apply(event('delete', order(1, 2), 3));
    expect(deleted).toMatchObject({ kind: 'delete', order: { id: 1 } });
    expect(set.get(1)).toBeUndefined();
    expect(set.apply(event('update', order(1, 2)))).toBeNull();
    expect(set.get(1)).toBeUndefined();
  });

  it('ignores a delete that is not newer than the row (the snapshot already has a later row)', () => {
    const set = createOrderSet();
    set.load([order(1, 5)]);
    expect(set.apply(event('delete', order(1, 3), 4))).toBeNull();
    expect(set.get(1)?.version).toBe(5);
  });

  it('clears everything on truncate, tombstones included', () => {
    const set = createOrderSet();
    set.load([order(1, 1), order(2, 1, 'shipped')]);
    set.apply(event('delete', order(1, 1), 2));
    expect(set.apply(event('truncate', null))).toEqual({ kind: 'truncate' });
    expect(set.size).toBe(0);
  });

  it('holds exactly the rows the changes leave', () => {
    const set = createOrderSet();
    set.load([order(1, 1), order(2, 1), order(3, 1, 'shipped')]);
    set.apply(event('update', order(1, 2, 'shipped')));
    set.apply(event('delete', order(2, 1), 2));
    set.apply(event('insert', order(4, 1, 'cancelled')));
    expect([...set.values()].map((o) => [o.id, o.status]).sort()).toEqual([
      [1, 'shipped'],
      [3, 'shipped'],
      [4, 'cancelled'],
    ]);
    expect(set.size).toBe(3);
  });

  it('meets a paged snapshot: events after the first page position make the table current', () => {
    // Page 1 (ids 1-2) read at position P; then order 3 changed (v2) and was deleted (v3); then
    // page 2 (ids 3-4) was read, without order 3 and with order 4 at v2 already.
    const set = createOrderSet();
    set.load([order(1, 1), order(2, 1), order(4, 2)]);
    set.apply(event('update', order(3, 2, 'processing')));
    set.apply(event('delete', order(3, 2), 3));
    set.apply(event('update', order(4, 2, 'shipped'))); // already in page 2
    set.apply(event('update', order(1, 2, 'delivered')));
    expect([...set.values()].map((o) => [o.id, o.version]).sort()).toEqual([
      [1, 2],
      [2, 1],
      [4, 2],
    ]);
  });
});
