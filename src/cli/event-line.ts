// One readable line per event for `orders-live tail`, coloured when the terminal supports it.

import type { OrderEvent } from '../contract/events.js';

const COLOURS = {
  insert: 32, // green
  update: 33, // yellow
  delete: 31, // red
  truncate: 35, // magenta
  dim: 2,
} as const;

function paint(text: string, code: number, colour: boolean): string {
  return colour ? `\u001b[${code}m${text}\u001b[0m` : text;
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

/** `#1234 10:00:00.123 update  order 42 v7 status: pending → shipped  [sql postgres/psql]` */
export function formatEvent(event: OrderEvent, colour: boolean): string {
  const time = event.occurred_at.slice(11, 23);
  const op = paint(event.op.padEnd(8), COLOURS[event.op], colour);
  const origin = paint(`[${event.source} ${event.actor}]`, COLOURS.dim, colour);
  if (event.op === 'truncate') return `#${event.position} ${time} ${op} all orders  ${origin}`;
  const order = event.order;
  let detail: string;
  if (event.op === 'update' && event.changes) {
    detail = Object.entries(event.changes)
      .map(([column, [from, to]]) => `${column}: ${show(from)} → ${show(to)}`)
      .join(', ');
  } else {
    detail = order ? `${show(order.customer_name)} · ${show(order.product_name)} · ${order.status}` : '';
  }
  return `#${event.position} ${time} ${op} order ${event.order_id} v${event.version} ${detail}  ${origin}`;
}
