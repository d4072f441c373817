// The contract's plain values, without zod: what the browser bundle may import (the schemas in
// events.ts, rest.ts and socket.ts would bring zod along, and no bundler can drop them).

/** In workflow order (the dashboard sorts statuses in this order). */
export const ORDER_STATUSES = ['pending', 'processing', 'shipped', 'delivered', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const EVENT_OPS = ['insert', 'update', 'delete', 'truncate'] as const;
export type EventOp = (typeof EVENT_OPS)[number];

/** `api` when the REST API wrote the change, `sql` for any other client. */
export const EVENT_SOURCES = ['api', 'sql'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

/** Socket.IO's path on the API's port. */
export const SOCKET_PATH = '/socket.io';

/** The durable topic exchange every event is published to (AMQP_EXCHANGE changes it). */
export const EXCHANGE = 'orders.events';

/** The PostgreSQL channel the capture triggers ring. */
export const NOTIFY_CHANNEL = 'order_events';
