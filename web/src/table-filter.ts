// The toolbar above the table: the status filter and the search box, reported on every change.

import type { OrderStatus } from '../../src/contract/events.js';
import { ORDER_STATUSES } from './contract-values.js';
import { byTestId, el } from './dom.js';
import type { TableView } from './visible-orders.js';

export function wireTableFilter(
  root: HTMLElement,
  onChange: (filter: Pick<TableView, 'status' | 'search'>) => void,
): void {
  const form = byTestId<HTMLFormElement>(root, 'filter-form');
  const status = byTestId<HTMLSelectElement>(root, 'status-filter');
  const search = byTestId<HTMLInputElement>(root, 'search');
  status.append(...ORDER_STATUSES.map((s) => el('option', { value: s }, s)));
  const report = () => onChange({ status: status.value as OrderStatus | 'all', search: search.value });
  form.addEventListener('submit', (event) => event.preventDefault());
  status.addEventListener('change', report);
  search.addEventListener('input', report);
}
