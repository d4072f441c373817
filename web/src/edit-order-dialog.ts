// The edit dialog (a modal <dialog>: focus stays inside, Escape closes it): change customer,
// product or status with PATCH, or delete with DELETE, both with If-Match on the version the user
// saw when opening it, so a change made meanwhile is not overwritten blindly (412, shown here).

import type { Order, OrderStatus } from '../../src/contract/events.js';
import type { ApiClient, NewOrder } from './api-client.js';
import { ORDER_STATUSES } from './contract-values.js';
import { markInvalidFields } from './create-order-form.js';
import { byTestId, el } from './dom.js';

export interface EditOrderDialog {
  open(order: Order): void;
}

export interface EditOrderDialogOptions {
  api: ApiClient;
  onDone: (text: string) => void;
  onError: (context: string, err: unknown) => void;
}

export function createEditOrderDialog(root: HTMLElement, options: EditOrderDialogOptions): EditOrderDialog {
  const dialog = byTestId<HTMLDialogElement>(root, 'edit-dialog');
  const form = dialog.querySelector('form')!;
  const title = byTestId(dialog, 'edit-title');
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  (field('status') as HTMLSelectElement).append(...ORDER_STATUSES.map((s) => el('option', { value: s }, s)));
  let editing: Order | undefined;

  function changes(order: Order): Partial<NewOrder> {
    const out: Partial<NewOrder> = {};
    const customer = field('customer_name').value;
    const product = field('product_name').value;
    const status = field('status').value as OrderStatus;
    if (customer !== order.customer_name) out.customer_name = customer;
    if (product !== order.product_name) out.product_name = product;
    if (status !== order.status) out.status = status;
    return out;
  }

  function run(action: (order: Order) => Promise<string>, context: string): void {
    const order = editing;
    if (!order) return;
    for (const button of form.querySelectorAll('button')) button.disabled = true;
    action(order)
      .then(
        (text) => {
          dialog.close();
          options.onDone(text);
        },
        (err: unknown) => {
          markInvalidFields(form, err);
          dialog.close();
          options.onError(context, err);
        },
      )
      .finally(() => {
        for (const button of form.querySelectorAll('button')) button.disabled = false;
      });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const action = (event.submitter as HTMLButtonElement | null)?.value;
    if (action === 'cancel') return dialog.close();
    if (action === 'delete') {
      return run(async (order) => {
        await options.api.remove(order.id, order.version);
        return `Order #${order.id} deleted.`;
      }, 'Could not delete the order');
    }
    run(async (order) => {
      const changed = changes(order);
      if (Object.keys(changed).length === 0) return `Order #${order.id}: nothing to change.`;
      const saved = await options.api.update(order.id, changed, order.version);
      return `Order #${saved.id} saved (version ${saved.version}).`;
    }, 'Could not save the order');
  });

  return {
    open(order) {
      editing = order;
      title.textContent = `Order #${order.id} (version ${order.version})`;
      field('customer_name').value = order.customer_name;
      field('product_name').value = order.product_name;
      field('status').value = order.status;
      for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
      dialog.showModal();
    },
  };
}
