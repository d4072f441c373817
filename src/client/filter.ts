// The event filter of the wire contract, checked the way the gateway checks it but without zod
// (which would triple the browser bundle), and applied to orders for the live set's view.

import { ORDER_STATUSES, type OrderStatus } from '../contract/constants.js';
import type { Order } from '../contract/events.js';
import type { EventFilter } from '../contract/socket.js';
import { BadFilterError } from './errors.js';

/** Throws BadFilterError unless `filter` is `{ status?: OrderStatus[], order_id?: number }`. */
export function checkFilter(filter: unknown): EventFilter | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter))
    throw new BadFilterError('filter must be an object: { status?: string[], order_id?: number }');
  const { status, order_id, ...rest } = filter as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    throw new BadFilterError(`filter has unknown keys: ${unknown.join(', ')} (allowed: status, order_id)`);
  if (status !== undefined) {
    if (!Array.isArray(status)) throw new BadFilterError('filter.status must be an array of statuses');
    const bad = status.filter((s) => !ORDER_STATUSES.includes(s as OrderStatus));
    if (bad.length > 0)
      throw new BadFilterError(
        `filter.status: ${bad.map((s) => JSON.stringify(s)).join(', ')} is not one of ${ORDER_STATUSES.join(', ')}`,
      );
  }
  if (order_id !== undefined && !(Number.isSafeInteger(order_id) && (order_id as number) > 0))
    throw new BadFilterError(`filter.order_id must be a positive integer; got ${JSON.stringify(order_id)}`);
  return filter as EventFilter;
}

/** Whether an order belongs to the filtered view. */
export function orderMatches(order: Order, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.order_id !== undefined && order.id !== filter.order_id) return false;
  if (filter.status && !filter.status.includes(order.status)) return false;
  return true;
}
