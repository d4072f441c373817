// The dashboard's counts per status (web/src/status-counts.ts), kept from the live set's changes:
// each change moves one order between statuses, a truncate zeroes them, a reset recounts. A model
// test applies random changes and compares with a count of the orders they leave.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ORDER_STATUSES, type Order, type OrderEvent, type OrderStatus } from '../../src/client/index.js';
import { createStatusCounts } from '../../web/src/status-counts.js';
import { orderEvent, orderRow } from '../helpers/events.js';

const order = (id: number, status: OrderStatus, version = 1): Order => orderRow(id, version, status);

/** The event does not matter to the counts; one shape serves every change. */
const EVENT: OrderEvent = orderEvent(1, 'update', null, 1);

const zero = { pending: 0, processing: 0, shipped: 0, delivered: 0, cancelled: 0 };

describe('status counts', () => {
  it('counts a reset, then moves one order per change', () => {
    const counts = createStatusCounts();
    counts.reset([order(1, 'pending'), order(2, 'pending'), order(3, 'shipped')]);
    expect(counts.current).toEqual({ ...zero, pending: 2, shipped: 1 });

    counts.change({ kind: 'updated', event: EVENT, previous: order(1, 'pending') }, order(1, 'shipped', 2));
    counts.change({ kind: 'removed', event: EVENT, previous: order(2, 'pending') }, undefined);
    counts.change({ kind: 'added', event: EVENT, previous: undefined }, order(4, 'cancelled'));
    // A change of another field: the status stays where it was.
    counts.change({ kind: 'updated', event: EVENT, previous: order(3, 'shipped') }, order(3, 'shipped', 2));
    expect(counts.current).toEqual({ ...zero, shipped: 2, cancelled: 1 });
  });

  it('zeroes every status on a truncate, and a reset replaces what was counted', () => {
    const counts = createStatusCounts();
    counts.reset([order(1, 'delivered'), order(2, 'processing')]);
    counts.change({ kind: 'cleared', event: { ...EVENT, op: 'truncate' }, previous: undefined }, undefined);
    expect(counts.current).toEqual(zero);
    counts.change({ kind: 'added', event: EVENT, previous: undefined }, order(3, 'pending'));
    counts.reset([order(7, 'cancelled')]);
    expect(counts.current).toEqual({ ...zero, cancelled: 1 });
  });

  it('always equals a count of the orders the changes leave', () => {
    const step = fc.oneof(
      fc.record({ id: fc.integer({ min: 1, max: 8 }), status: fc.constantFrom(...ORDER_STATUSES) }),
      fc.constant('truncate' as const),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const counts = createStatusCounts();
        const rows = new Map<number, Order>();
        for (const s of steps) {
          if (s === 'truncate') {
            rows.clear();
            counts.change({ kind: 'cleared', event: EVENT, previous: undefined }, undefined);
            continue;
          }
          // The same status again removes the order; another one adds or updates it.
          const previous = rows.get(s.id);
          if (previous?.status === s.status) {
            rows.delete(s.id);
            counts.change({ kind: 'removed', event: EVENT, previous }, undefined);
            continue;
          }
          const now = order(s.id, s.status);
          rows.set(s.id, now);
          counts.change({ kind: previous ? 'updated' : 'added', event: EVENT, previous }, now);
        }
        const expected = { ...zero };
        for (const row of rows.values()) expected[row.status] += 1;
        expect(counts.current).toEqual(expected);
      }),
    );
  });
});
