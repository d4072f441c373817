// One order as a table row: built once when it appears, then only the cells that differ are
// written. The attributes tests and styles read (data-order-id, data-status, data-version) live
// on the <tr>. The order's number is a button that opens its history (orders-table.ts).

import type { Order } from '../../src/contract/events.js';
import { el, setText } from './dom.js';
import { formatDateTime } from './format.js';

/** The cells of a row, by what they show (the order of <th>s in index.html). */
interface RowCells {
  customer: HTMLTableCellElement;
  product: HTMLTableCellElement;
  badge: HTMLSpanElement;
  version: HTMLTableCellElement;
  updated: HTMLTimeElement;
  change: HTMLTableCellElement;
}

const cellsOf = new WeakMap<HTMLTableRowElement, RowCells>();

/** A row for `order`; `change` fills the "last change" cell. */
export function createOrderRow(order: Order, change?: string): HTMLTableRowElement {
  const cells: RowCells = {
    customer: el('td', { className: 'text' }),
    product: el('td', { className: 'text' }),
    badge: el('span', { className: 'badge' }),
    version: el('td', { className: 'num' }),
    updated: el('time'),
    change: el('td', { className: 'change', 'data-testid': 'row-change' }),
  };
  const row = el(
    'tr',
    { 'data-order-id': order.id },
    el(
      'th',
      { scope: 'row', className: 'num' },
      el(
        'button',
        {
          type: 'button',
          className: 'order-link',
          'data-action': 'history',
          'aria-label': `History of order #${order.id}`,
        },
        `#${order.id}`,
      ),
    ),
    cells.customer,
    cells.product,
    el('td', {}, cells.badge),
    cells.version,
    el('td', { className: 'time' }, cells.updated),
    cells.change,
    el(
      'td',
      { className: 'actions' },
      el(
        'button',
        { type: 'button', className: 'edit', 'data-action': 'edit', 'aria-label': `Edit order ${order.id}` },
        'Edit',
      ),
    ),
  );
  cellsOf.set(row, cells);
  updateOrderRow(row, order, change);
  return row;
}

/** Writes what differs from what the row shows; `change` replaces the "last change" text. */
export function updateOrderRow(row: HTMLTableRowElement, order: Order, change?: string): void {
  const cells = cellsOf.get(row);
  if (!cells) return;
  row.dataset.status = order.status;
  row.dataset.version = String(order.version);
  setCellText(cells.customer, order.customer_name);
  setCellText(cells.product, order.product_name);
  setText(cells.badge, order.status);
  cells.badge.dataset.status = order.status;
  setText(cells.version, String(order.version));
  if (cells.updated.dateTime !== order.updated_at) {
    cells.updated.dateTime = order.updated_at;
    setText(cells.updated, formatDateTime(order.updated_at));
  }
  if (change !== undefined) setCellText(cells.change, change);
}

/** Text of a cell that may be cut with an ellipsis: the title shows it whole on hover. */
function setCellText(cell: HTMLTableCellElement, text: string): void {
  if (cell.textContent === text) return;
  cell.textContent = text;
  cell.title = text;
}
