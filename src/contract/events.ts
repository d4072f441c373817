// The wire contract of docs/design.md: the event envelope, shared by RabbitMQ, the socket and
// GET /events, with the names of the AMQP objects. Types, schemas and pure functions only.

import { z } from 'zod';

export const ORDER_STATUSES = ['pending', 'processing', 'shipped', 'delivered', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const EVENT_OPS = ['insert', 'update', 'delete', 'truncate'] as const;
export type EventOp = (typeof EVENT_OPS)[number];

export type EventSource = 'api' | 'sql';

/** An order as the REST API and the events carry it (snake_case). */
export interface Order {
  id: number;
  customer_name: string;
  product_name: string;
  status: OrderStatus;
  version: number;
  created_at: string;
  updated_at: string;
}

/** One change of the orders table, numbered by the bridge leader. */
export interface OrderEvent {
  /** 1, 2, 3 … with no gap, in capture order; never changes. */
  position: number;
  op: EventOp;
  /** null for truncate. */
  order_id: number | null;
  /** The row's version after the change; for delete the last version + 1; null for truncate. */
  version: number | null;
  /** The new row; for delete the old row; null for truncate. */
  order: Order | null;
  /** `{column: [old, new]}` for updates, null otherwise. */
  changes: Record<string, [unknown, unknown]> | null;
  source: EventSource;
  /** Database user and application_name (`postgres/psql`), or the API caller. */
  actor: string;
  /** The writing transaction's id, as a string (it is a 64-bit number). */
  txid: string;
  /** When the change was captured, ISO 8601 with microseconds. */
  occurred_at: string;
  /** When the bridge published it (null while not yet published). */
  published_at: string | null;
}

const orderSchema = z.looseObject({
  id: z.number().int().positive(),
  customer_name: z.string(),
  product_name: z.string(),
  status: z.enum(ORDER_STATUSES),
  version: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
});

/** Validates an envelope received from the broker (or anywhere untrusted). */
export const orderEventSchema = z.object({
  position: z.number().int().positive(),
  op: z.enum(EVENT_OPS),
  order_id: z.number().int().positive().nullable(),
  version: z.number().int().nullable(),
  order: orderSchema.nullable(),
  changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])).nullable(),
  source: z.enum(['api', 'sql']),
  actor: z.string(),
  txid: z.string(),
  occurred_at: z.string(),
  published_at: z.string().nullable(),
});

/** The durable topic exchange every event is published to. */
export const EXCHANGE = 'orders.events';

/** AMQP names derived from the exchange name (which tests and side-by-side systems change). */
export function amqpNames(exchange = EXCHANGE) {
  return {
    exchange,
    /** Dead-letter exchange for messages a gateway cannot parse. */
    deadLetterExchange: `${exchange}.dlx`,
    /** Durable queue bound to the dead-letter exchange. */
    deadLetterQueue: `${exchange}.dead`,
  } as const;
}

/** `order.<op>.<status>`, or `order.truncate.all`. */
export function routingKey(event: Pick<OrderEvent, 'op' | 'order'>): string {
  if (event.op === 'truncate') return 'order.truncate.all';
  return `order.${event.op}.${event.order?.status ?? 'unknown'}`;
}

/** The PostgreSQL channel the capture triggers ring. */
export const NOTIFY_CHANNEL = 'order_events';
