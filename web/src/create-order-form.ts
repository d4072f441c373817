// The "New order" form: POST /orders with the token. The new row is not drawn from the answer but
// arrives through the stream like every other change, so the page shows one truth.

import type { OrderStatus } from '../../src/contract/events.js';
import { type ApiClient, ApiError } from './api-client.js';
import { ORDER_STATUSES } from './contract-values.js';
import { byTestId, el } from './dom.js';

export interface CreateOrderFormOptions {
  api: ApiClient;
  onCreated: (id: number) => void;
  onError: (context: string, err: unknown) => void;
}

export function wireCreateOrderForm(
  root: HTMLElement,
  { api, onCreated, onError }: CreateOrderFormOptions,
): void {
  const form = byTestId<HTMLFormElement>(root, 'create-form');
  const status = form.elements.namedItem('status') as HTMLSelectElement;
  status.append(...ORDER_STATUSES.map((s) => el('option', { value: s }, s)));
  const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    submit.disabled = true;
    api
      .create({
        customer_name: String(data.get('customer_name') ?? ''),
        product_name: String(data.get('product_name') ?? ''),
        status: String(data.get('status') ?? 'pending') as OrderStatus,
      })
      .then(
        (order) => {
          form.reset();
          onCreated(order.id);
        },
        (err: unknown) => {
          markInvalidFields(form, err);
          onError('Could not create the order', err);
        },
      )
      .finally(() => {
        submit.disabled = false;
      });
  });
}

/** aria-invalid on the inputs the API named in `errors[].field`. */
export function markInvalidFields(form: HTMLFormElement, err: unknown): void {
  if (!(err instanceof ApiError)) return;
  for (const { field } of err.problem.errors ?? []) {
    const input = form.elements.namedItem(field);
    if (input instanceof HTMLElement) input.setAttribute('aria-invalid', 'true');
  }
}
