// The wire contract of docs/design.md: the event envelope, shared by RabbitMQ, the socket and
// GET /events, with the names of the AMQP objects. Types, schemas and pure functions only.

import { z } from 'zod';

import { EVENT_OPS, EVENT_SOURCES, EXCHANGE, ORDER_STATUSES } from './constants.js';

export {
  EVENT_OPS,
  EVENT_SOURCES,
  type EventOp,
  type EventSource,
  EXCHANGE,
  NOTIFY_CHANNEL,
  ORDER_STATUSES,
  type OrderStatus,
} from './constants.js';

/** An order as the REST API and the events carry it (snake_case). */
export const orderSchema = z.object({
  id: z.number().int().positive(),
  customer_name: z.string(),
  product_name: z.string(),
  status: z.enum(ORDER_STATUSES),
  /** 1 at insert, + 1 at every change of a column (kept by the database). */
  version: z.number().int(),
  /** RFC 3339, UTC as Z, microseconds. */
  created_at: z.string(),
  /** RFC 3339, UTC as Z, microseconds. */
  updated_at: z.string(),
});
export type Order = z.infer<typeof orderSchema>;

/** One change of the orders table, numbered by the bridge leader; validates what the broker brings. */
export const orderEventSchema = z.object({
  /** 1, 2, 3 … with no gap, in capture order; never changes. */
  position: z.number().int().positive(),
  op: z.enum(EVENT_OPS),
  /** null for truncate. */
  order_id: z.number().int().positive().nullable(),
  /** The row's version after the change; for delete the last version + 1; null for truncate. */
  version: z.number().int().nullable(),
  /** The new row; for delete the old row; null for truncate. */
  order: orderSchema.nullable(),
  /** `{column: [old, new]}` for updates, null otherwise. */
  changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])).nullable(),
  source: z.enum(EVENT_SOURCES),
  /** Database user and application_name (`postgres/psql`), or the API caller. */
  actor: z.string(),
  /** The writing transaction's id, as a string (it is a 64-bit number). */
  txid: z.string(),
  /** When the change was captured: RFC 3339, UTC as Z, microseconds. */
  occurred_at: z.string(),
  /** When the bridge numbered it for publishing (milliseconds); null only before that. */
  published_at: z.string().nullable(),
  /**
   * The log's history the position belongs to (invariant 9): after a failover that lost events the
   * positions above the fork are handed out again under a newer epoch. Absent from older bridges.
   */
  epoch: z.number().int().positive().optional(),
});
export type OrderEvent = z.infer<typeof orderEventSchema>;

/** AMQP names derived from the exchange name (which tests and side-by-side systems change). */
export function amqpNames(exchange = EXCHANGE) {
  return {
    exchange,
    /**
     * The gateways' feed: a fanout exchange that carries each batch the bridge publishes as one
     * message (a JSON array of envelopes, positions ascending). `exchange` still carries one
     * message per event, for integrations.
     */
    feed: `${exchange}.feed`,
    /** Dead-letter exchange for messages a gateway cannot parse. */
    deadLetterExchange: `${exchange}.dlx`,
    /** Durable queue bound to the dead-letter exchange. */
    deadLetterQueue: `${exchange}.dead`,
  } as const;
}

/**
 * A feed message's header: when the bridge wrote it to the broker, in ms since the epoch
 * (fractional), so a gateway can time the broker hop. Not part of the envelope; a consumer that
 * does not know it ignores it.
 */
export const FEED_HANDED_AT_HEADER = 'x-handed-at';

/** `order.<op>.<status>`, or `order.truncate.all`. */
export function routingKey(event: Pick<OrderEvent, 'op' | 'order'>): string {
  return routingKeyFor(event.op, event.order?.status ?? null);
}

/** The routing key of an event with this op, for an order with this status (null: none). */
export function routingKeyFor(op: OrderEvent['op'], status: string | null): string {
  if (op === 'truncate') return 'order.truncate.all';
  return `order.${op}.${status ?? 'unknown'}`;
}
