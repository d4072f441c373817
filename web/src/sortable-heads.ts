// The column heads: a button per sortable column; a click sorts by it (again: the other way) and
// aria-sort tells assistive technology which column and direction are in force.

import type { SortKey, TableView } from './visible-orders.js';

/** Columns that read best newest or largest first when first chosen. */
const DESCENDING_FIRST: readonly SortKey[] = ['id', 'updated_at', 'version'];

export function wireSortableHeads(table: HTMLTableElement, view: TableView, onSort: () => void): void {
  table.tHead?.addEventListener('click', (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>('button[data-sort]');
    if (!button) return;
    const key = button.dataset.sort as SortKey;
    view.descending = view.sort === key ? !view.descending : DESCENDING_FIRST.includes(key);
    view.sort = key;
    for (const th of table.tHead?.querySelectorAll('th') ?? []) th.removeAttribute('aria-sort');
    button.closest('th')?.setAttribute('aria-sort', view.descending ? 'descending' : 'ascending');
    onSort();
  });
}
