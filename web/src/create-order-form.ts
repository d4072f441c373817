// The "New order" form: POST /orders with the token. The new row is not drawn from the answer but
// arrives through the stream like every other change, so the page shows one truth. A refused
// create keeps what was typed and shows each field's error next to it.

import type { OrderStatus } from '../../src/contract/events.js';
import { type ApiClient, ApiError } from './api-client.js';
import { ORDER_STATUSES } from './contract-values.js';
import { byTestId, clearFieldErrors, el, firstInvalidControl, showFieldErrors } from './dom.js';

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
  form.addEventListener('input', (event) => clearFieldErrors(form, event.target as Element));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    clearFieldErrors(form);
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
          submit.disabled = false; // before focusing: a disabled button takes no focus
          onError('Could not create the order', err);
          if (err instanceof ApiError) showFieldErrors(form, err.problem.errors ?? []);
          const invalid = firstInvalidControl(form);
          if (invalid) invalid.focus();
          else if (document.activeElement === document.body) submit.focus(); // it lost focus when disabled
        },
      )
      .finally(() => {
        submit.disabled = false;
      });
  });
}
