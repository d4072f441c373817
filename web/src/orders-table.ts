// The orders <table> body, kept in line with the model by touching only rows that changed this
// frame (flash on change, fade on delete), plus moves when the order of the visible rows
// changed. Rows beyond MAX_VISIBLE_ROWS are not drawn: the search and filter narrow them.
// A click on a row (but on its Edit button) or on its number opens the order's history.

import type { LiveOrders } from '../../src/client/index.js';
import { setText } from './dom.js';
import { describeChanges } from './format.js';
import { createOrderRow, updateOrderRow } from './order-row.js';
import type { RowChange } from './pending-changes.js';
import { createRowMotion } from './row-motion.js';
import { wireSortableHeads } from './sortable-heads.js';
import { type TableView, visibleOrders } from './visible-orders.js';

/** Rows drawn at most: about 2 MB of DOM, still quick to lay out on a slow laptop. */
export const MAX_VISIBLE_ROWS = 2_000;

/** The orders the table is drawn from: the live set (src/client). */
export type OrdersModel = Pick<LiveOrders, 'get' | 'all' | 'size'>;

export interface OrdersTableOptions {
  table: HTMLTableElement;
  summary: HTMLElement;
  onEdit: (id: number) => void;
  /** The order's history is asked for; `opener` (the row's history button) gets focus back. */
  onHistory: (id: number, opener: HTMLElement) => void;
}

export interface OrdersTable {
  setFilter(filter: Pick<TableView, 'status' | 'search'>, model: OrdersModel): void;
  /** Applies one frame of changes; `truncate` first empties the body. */
  render(model: OrdersModel, rows: ReadonlyMap<number, RowChange>, truncate: boolean): void;
  /** After the model was replaced by a snapshot: every drawn row is rewritten from it. */
  reload(model: OrdersModel): void;
}

export function createOrdersTable(options: OrdersTableOptions): OrdersTable {
  return new OrdersTableImpl(options);
}

class OrdersTableImpl implements OrdersTable {
  private readonly options: OrdersTableOptions;
  private readonly body: HTMLTableSectionElement;
  private readonly rows = new Map<number, HTMLTableRowElement>();
  private readonly motion = createRowMotion();
  private readonly view: TableView = { sort: 'id', descending: true, status: 'all', search: '' };
  private current: OrdersModel | undefined;

  constructor(options: OrdersTableOptions) {
    this.options = options;
    const { table } = options;
    this.body = table.tBodies[0] ?? table.createTBody();
    wireSortableHeads(table, this.view, () => {
      if (this.current) this.redraw(this.current);
    });
    this.body.addEventListener('click', this.onClick);
  }

  setFilter(filter: Pick<TableView, 'status' | 'search'>, model: OrdersModel): void {
    this.view.status = filter.status;
    this.view.search = filter.search;
    this.redraw(model);
  }

  render(model: OrdersModel, changes: ReadonlyMap<number, RowChange>, truncate: boolean): void {
    if (truncate) {
      for (const row of this.rows.values()) row.remove();
      this.rows.clear();
    }
    const inserted = this.applyRowChanges(model, changes);
    if (truncate || changes.size > 0) this.redraw(model, inserted);
  }

  reload(model: OrdersModel): void {
    for (const [id, row] of this.rows) {
      const order = model.get(id);
      if (order) updateOrderRow(row, order);
    }
    this.redraw(model);
  }

  private readonly onClick = (event: MouseEvent) => {
    const target = event.target as Element;
    const row = target.closest<HTMLTableRowElement>('tr[data-order-id]');
    const id = Number(row?.dataset.orderId);
    if (!row || !Number.isSafeInteger(id)) return; // a row fading out is no longer an order's
    const button = target.closest('button');
    if (button?.dataset.action === 'edit') return this.options.onEdit(id);
    // Selecting a name to copy it is not asking for the history.
    if (!button && getSelection()?.isCollapsed === false) return;
    const opener = row.querySelector<HTMLElement>('button[data-action="history"]');
    if (opener && (!button || button === opener)) this.options.onHistory(id, opener);
  };

  /** Updates the drawn rows that changed; returns the ids inserted this frame. */
  private applyRowChanges(model: OrdersModel, changes: ReadonlyMap<number, RowChange>): Set<number> {
    const inserted = new Set<number>();
    for (const [id, change] of changes) {
      const row = this.rows.get(id);
      if (change.kind === 'delete') {
        if (row) this.removeRow(id, row);
        continue;
      }
      const order = model.get(id);
      if (!order) continue;
      if (change.kind === 'insert') inserted.add(id);
      if (!row) continue; // drawn by reconcile() if it is visible
      updateOrderRow(row, order, change.kind === 'insert' ? 'new' : describeChanges(change.changes));
      this.motion.flash(row, change.kind);
    }
    return inserted;
  }

  private removeRow(id: number, row: HTMLTableRowElement): void {
    this.rows.delete(id);
    // Tests and styles see a leaving row as gone at once; only its fade remains.
    row.removeAttribute('data-order-id');
    row.dataset.deletedId = String(id);
    row.inert = true;
    this.motion.fadeOut(row);
  }

  /** Shows exactly `ids`, in that order, moving as few rows as it can. */
  private reconcile(model: OrdersModel, ids: readonly number[], inserted: ReadonlySet<number>): void {
    const wanted = new Set(ids);
    for (const [id, row] of this.rows) {
      if (!wanted.has(id)) {
        this.rows.delete(id);
        row.remove();
      }
    }
    const { body, motion } = this;
    const focused = body.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
    let cursor = body.firstElementChild;
    for (const id of ids) {
      while (cursor && motion.isFading(cursor)) cursor = cursor.nextElementSibling;
      const row = this.rows.get(id) ?? this.addRow(model, id, inserted.has(id));
      if (cursor === row) cursor = cursor.nextElementSibling;
      else body.insertBefore(row, cursor);
    }
    // Moving a row blurs what it contains; give the keyboard user their place back.
    if (focused && focused !== document.activeElement && focused.isConnected)
      focused.focus({ preventScroll: true });
  }

  /** A row for an order not drawn yet; one inserted this frame flashes as new. */
  private addRow(model: OrdersModel, id: number, inserted: boolean): HTMLTableRowElement {
    const row = createOrderRow(model.get(id)!, inserted ? 'new' : undefined);
    if (inserted) this.motion.flash(row, 'insert');
    this.rows.set(id, row);
    return row;
  }

  private redraw(model: OrdersModel, inserted: ReadonlySet<number> = new Set()): void {
    this.current = model;
    const { ids, matching } = visibleOrders(model.all(), this.view, MAX_VISIBLE_ROWS);
    this.reconcile(model, ids, inserted);
    setText(
      this.options.summary,
      matching > ids.length
        ? `Showing the first ${ids.length.toLocaleString()} of ${matching.toLocaleString()} matching orders: narrow the search to see the others.`
        : `${matching.toLocaleString()} of ${model.size.toLocaleString()} orders shown.`,
    );
  }
}
