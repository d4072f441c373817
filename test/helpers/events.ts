// Envelopes made up for unit tests: position p is an update of order (p % 7) + 1.

import type { Order, OrderEvent, OrderStatus } from '../../src/contract/events.js';
import type { RawEvent } from '../../src/db/event-log.js';

export function envelope(position: number): OrderEvent {
  const id = (position % 7) + 1;
  return {
    position,
    op: 'update',
    order_id: id,
    version: position + 1,
    order: {
      id,
      customer_name: `Customer ${id}`,
      product_name: 'Product',
      status: position % 2 === 0 ? 'shipped' : 'pending',
      version: position + 1,
      created_at: '2026-11-24T10:00:00.000Z',
      updated_at: '2026-11-24T10:00:00.000Z',
    },
    changes: null,
    source: 'sql',
    actor: 'postgres/psql',
    txid: String(position),
    occurred_at: '2026-11-24T10:00:00.123456Z',
    published_at: '2026-11-24T10:00:00.125Z',
  };
}

/** Envelopes for positions from … to, inclusive. */
export function envelopes(from: number, to: number): OrderEvent[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => envelope(from + i));
}

export function positions(events: readonly OrderEvent[]): number[] {
  return events.map((e) => e.position);
}

/** An order row as the API and the events carry it. */
export function orderRow(id: number, version = 1, status: OrderStatus = 'pending'): Order {
  return {
    id,
    customer_name: `Customer ${id}`,
    product_name: 'Product',
    status,
    version,
    created_at: '2026-11-24T10:00:00.000000Z',
    updated_at: '2026-11-24T10:00:00.000000Z',
  };
}

/** The envelope of `op` on `row` (null for truncate) at `position`. */
export function orderEvent(
  position: number,
  op: OrderEvent['op'],
  row: Order | null,
  version = row?.version ?? null,
): OrderEvent {
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

/** The bridge's form of an event (db/event-log.ts): position p, an update to shipped. */
export function rawEvent(position: number): RawEvent {
  return {
    position,
    op: 'update',
    status: 'shipped',
    publishedAt: 0,
    occurredAt: 0,
    json: `{"position":${position}}`,
  };
}
