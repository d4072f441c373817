// The Socket.IO part of the wire contract (default namespace, path /socket.io): handshake auth,
// the events each side sends, and the filter both the server and clients apply.

import { z } from 'zod';
import { ORDER_STATUSES, type OrderEvent, type OrderStatus } from './events.js';

export { SOCKET_PATH } from './constants.js';

/** Which events a client wants. Truncates always pass: they concern every order. */
export interface EventFilter {
  /** Only events whose order has one of these statuses (for delete: the status it had). */
  status?: OrderStatus[];
  /** Only events of this order. */
  order_id?: number;
}

/** What a client sends in `io(url, { auth })`. */
export interface HandshakeAuth {
  /** Bearer token, required when the server has tokens configured. */
  token?: string;
  /** Resume after this position: every later event is replayed before live ones. */
  since?: number;
  /**
   * The epoch of `since` (the snapshot's X-Event-Epoch, or the last `ready` or event): a position
   * above what that epoch shares with the log's current one gets `resync` instead of a replay.
   */
  epoch?: number;
  filter?: EventFilter;
}

export interface ServerToClientEvents {
  /** Events in ascending position order, batched under load. */
  events: (events: OrderEvent[]) => void;
  /**
   * Replay is done and the client is live; `position` is where it now stands, in the log's
   * `epoch` (absent from gateways before epochs).
   */
  ready: (info: { position: number; epoch?: number }) => void;
  /** The client's position cannot be served (older than retention, unknown, or of another
   * epoch): reload the snapshot (GET /orders), then reconnect with its X-Event-Position as `since`
   * and its X-Event-Epoch as `epoch`. */
  resync: (info: { reason: string }) => void;
}

export interface ClientToServerEvents {
  /** Replaces the client's filter; applies to the next events. */
  subscribe: (
    request: { filter?: EventFilter },
    ack: (reply: { ok: boolean; error?: string }) => void,
  ) => void;
}

export const eventFilterSchema = z.strictObject({
  status: z.array(z.enum(ORDER_STATUSES)).max(ORDER_STATUSES.length).optional(),
  order_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});

export const handshakeAuthSchema = z.object({
  token: z.string().max(1_000).optional(),
  since: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  epoch: z
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1)
    .optional(),
  filter: eventFilterSchema.optional(),
});

/** Whether `event` passes `filter`. */
export function matchesFilter(event: OrderEvent, filter: EventFilter | undefined): boolean {
  if (!filter || event.op === 'truncate') return true;
  if (filter.order_id !== undefined && event.order_id !== filter.order_id) return false;
  if (filter.status && !filter.status.includes(event.order?.status as OrderStatus)) return false;
  return true;
}

/** The first problem of a zod error as one line: "filter.status.0: Invalid option …". */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}
