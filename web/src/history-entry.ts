// One event of an order's history as a list item: what happened and where from in words (the
// source badge says "API" or "SQL", colour only repeats it), who, when, and the fields: before →
// after for a change, the values it was created with, or the last ones it had when deleted.

import type { OrderEvent } from '../../src/contract/events.js';
import { el } from './dom.js';
import { fieldLabel, formatMoment, formatValue } from './format.js';

const OP_LABELS: Record<OrderEvent['op'], string> = {
  insert: 'Created',
  update: 'Changed',
  delete: 'Deleted',
  truncate: 'Emptied', // not an order's event: GET /orders/:id/events never answers one
};
const SOURCE_LABELS: Record<OrderEvent['source'], string> = { api: 'API', sql: 'SQL' };
/** The fields a creation or a deletion lists, in the table's order. */
const ORDER_FIELDS = ['customer_name', 'product_name', 'status'] as const;

export function historyEntry(event: OrderEvent, now = new Date()): HTMLLIElement {
  return el(
    'li',
    {
      className: 'history-entry',
      'data-testid': 'history-entry',
      'data-position': event.position,
      'data-op': event.op,
      'data-source': event.source,
    },
    el(
      'p',
      { className: 'history-meta' },
      // The spaces between the parts are for screen readers: a flex row lays none of them out.
      el('span', { className: `op op-${event.op}` }, OP_LABELS[event.op]),
      el('span', { className: 'visually-hidden' }, ' via '),
      el(
        'span',
        { className: 'source', 'data-source': event.source, 'data-testid': 'history-source' },
        SOURCE_LABELS[event.source],
      ),
      ' ',
      el('span', { className: 'actor', 'data-testid': 'history-actor' }, `by ${event.actor}`),
      ' ',
      el(
        'time',
        { className: 'history-time', dateTime: event.occurred_at },
        formatMoment(event.occurred_at, now),
      ),
      ' ',
      el('span', { className: 'history-version' }, versionText(event)),
    ),
    fieldList(event),
  );
}

/** What an event says about an order, in one line, for the panel's announcements. */
export function describeEntry(event: OrderEvent): string {
  const what = `${OP_LABELS[event.op]} via ${SOURCE_LABELS[event.source]} by ${event.actor}`;
  const fields = Object.entries(fieldsOf(event))
    .map(([field, [before, after]]) =>
      event.op === 'update'
        ? `${fieldLabel(field)} ${formatValue(before)} to ${formatValue(after)}`
        : `${fieldLabel(field)} ${formatValue(after)}`,
    )
    .join(', ');
  return fields ? `${what}: ${fields}` : what;
}

function versionText(event: OrderEvent): string {
  // A delete's `version` is the last one + 1 (design.md): the order's last version says more.
  if (event.op === 'delete') return event.order ? `was version ${event.order.version}` : '';
  return event.version === null ? '' : `version ${event.version}`;
}

/** `{field: [before, after]}`: the changes of an update; the created or last values otherwise. */
function fieldsOf(event: OrderEvent): Record<string, readonly [unknown, unknown]> {
  if (event.op === 'update') {
    // In the table's order: jsonb hands the keys over shortest first.
    const rank = (field: string) => {
      const at = (ORDER_FIELDS as readonly string[]).indexOf(field);
      return at < 0 ? ORDER_FIELDS.length : at;
    };
    return Object.fromEntries(Object.entries(event.changes ?? {}).sort(([a], [b]) => rank(a) - rank(b)));
  }
  const order = event.order;
  if (!order) return {};
  return Object.fromEntries(ORDER_FIELDS.map((name) => [name, [undefined, order[name]] as const]));
}

function fieldList(event: OrderEvent): HTMLDListElement {
  const rows = Object.entries(fieldsOf(event)).map(([field, [before, after]]) =>
    el(
      'div',
      { className: 'history-field', 'data-testid': 'history-field', 'data-field': field },
      el('dt', {}, fieldLabel(field)),
      event.op === 'update'
        ? el(
            'dd',
            {},
            el('span', { className: 'before', 'data-testid': 'history-before' }, formatValue(before)),
            el('span', { className: 'arrow', 'aria-hidden': 'true' }, ' → '),
            el('span', { className: 'visually-hidden' }, ' to '),
            el('span', { className: 'after', 'data-testid': 'history-after' }, formatValue(after)),
          )
        : el('dd', {}, el('span', { 'data-testid': 'history-after' }, formatValue(after))),
    ),
  );
  return el('dl', { className: 'history-fields', 'data-op': event.op }, ...rows);
}
