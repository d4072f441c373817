// The history panel's model (web/src/order-history.ts): pages of GET /orders/:id/events and the
// live set's events merged by position, each once, newest first, in whatever order they come.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../src/client/index.js';
import { createOrderHistory, type HistoryPage } from '../../web/src/order-history.js';

function event(position: number, orderId = 1): OrderEvent {
  return {
    position,
    op: 'update',
    order_id: orderId,
    version: position,
    order: null,
    changes: { status: ['pending', 'shipped'] },
    source: 'sql',
    actor: 'postgres/psql',
    txid: String(position),
    occurred_at: '2026-11-24T10:00:00.000Z',
    published_at: '2026-11-24T10:00:00.001Z',
  };
}

const positions = (events: readonly OrderEvent[]) => events.map((e) => e.position);

/** What GET /orders/1/events answers over `log` (ascending): newest first, before `before`. */
function pageOf(log: readonly OrderEvent[], orderId: number, before: number | undefined, limit: number) {
  const events = log
    .filter((e) => e.order_id === orderId && e.position < (before ?? Number.MAX_SAFE_INTEGER))
    .reverse()
    .slice(0, limit);
  return { events, next: events.length === limit ? events.at(-1)!.position : null } satisfies HistoryPage;
}

describe('order history', () => {
  it('keeps a live event that the first page also holds once, and pages back with `next`', () => {
    const history = createOrderHistory(1);
    expect(history.older).toBeUndefined();
    expect(positions(history.addLive([event(9), event(10, 2)]))).toEqual([9]); // order 2's is not ours
    history.addPage({ events: [event(9), event(7), event(5)], next: 5 }, undefined);
    expect(positions(history.events)).toEqual([9, 7, 5]);
    expect(history.older).toBe(5);
    history.addLive([event(12)]);
    history.addPage({ events: [event(3)], next: null }, 5);
    expect(positions(history.events)).toEqual([12, 9, 7, 5, 3]);
    expect(history.older).toBeNull();
  });

  it('moves no cursor for a late answer to a cursor that is no longer the current one', () => {
    const history = createOrderHistory(1);
    const first = { events: [event(9), event(7)], next: 7 };
    history.addPage(first, undefined);
    history.addPage({ events: [event(3)], next: null }, 7);
    history.addPage(first, undefined); // the first page, asked twice, answered late
    expect(history.older).toBeNull();
    expect(positions(history.events)).toEqual([9, 7, 3]);
  });

  it('puts an event that arrives between two shown ones in its place', () => {
    const history = createOrderHistory(1);
    history.addLive([event(10), event(4)]);
    expect(
      positions(history.addPage({ events: [event(10), event(8), event(6)], next: null }, undefined)),
    ).toEqual([8, 6]);
    expect(positions(history.events)).toEqual([10, 8, 6, 4]);
  });

  it('whatever the interleaving of pages and live events: each position once, newest first, none lost', () => {
    type Step = 'publish' | 'deliver' | 'request' | 'answer';
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), // each event: order 1's or order 2's
        fc.nat({ max: 40 }), // events published before the panel opened
        fc.integer({ min: 1, max: 6 }), // page size
        fc.array(fc.constantFrom<Step>('publish', 'deliver', 'request', 'answer'), { maxLength: 120 }),
        fc.integer({ min: 1, max: 4 }), // events per live delivery
        (ours, before, limit, steps, perDelivery) => {
          const log = ours.map((mine, i) => event(i + 1, mine ? 1 : 2));
          const history = createOrderHistory(1);
          let published = Math.min(before, log.length);
          const queue: OrderEvent[] = [];
          let asked: { before: number | undefined; page: HistoryPage } | undefined;
          const run = (step: Step) => {
            if (step === 'publish' && published < log.length) queue.push(log[published++]!);
            if (step === 'deliver') history.addLive(queue.splice(0, perDelivery));
            // The panel asks for one page at a time; the server reads it from what is published.
            if (step === 'request' && !asked && history.older !== null) {
              const cursor = history.older;
              asked = { before: cursor, page: pageOf(log.slice(0, published), 1, cursor, limit) };
            }
            if (step === 'answer' && asked) {
              history.addPage(asked.page, asked.before);
              asked = undefined;
            }
            const shown = positions(history.events);
            expect(shown).toEqual([...new Set(shown)].sort((a, b) => b - a));
          };
          for (const step of steps) run(step);
          // Then everything is published and delivered, and the user pages back to the start.
          while (published < log.length) run('publish');
          while (queue.length > 0) run('deliver');
          for (let i = 0; i <= log.length + 1 && (asked || history.older !== null); i++) {
            run('request');
            run('answer');
          }
          expect(positions(history.events)).toEqual(positions(pageOf(log, 1, undefined, log.length).events));
        },
      ),
      { numRuns: 500 },
    );
  });
});
