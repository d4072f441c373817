// The edit dialog (a modal <dialog>: focus stays inside, Escape closes it): change customer,
// product or status with PATCH, or delete with DELETE, both with If-Match on the version the edit
// is based on, so a change made meanwhile is never overwritten blindly. A failed write keeps the
// dialog open with what the user typed: a 400 marks each refused field; a 412 names what the other
// writer changed (the live table already holds their version) and lets the user apply their own
// values to that version or discard them; anything else (no answer, 5xx) says so and Save retries.

import type { Order } from '../../src/contract/events.js';
import { type ApiClient, ApiError, type NewOrder } from './api-client.js';
import { ORDER_STATUSES } from './contract-values.js';
import { byTestId, clearFieldErrors, el, firstInvalidControl, setText, showFieldErrors } from './dom.js';
import {
  type Action,
  type Conflict,
  type ConflictChoice,
  createConflictChoice,
  EDITABLE,
  type EditableField,
  pastTense,
} from './edit-conflict.js';

export interface EditOrderDialog {
  open(order: Order): void;
  /** The live model changed: a conflict on screen is redrawn against the newest version. */
  refresh(): void;
}

export interface EditOrderDialogOptions {
  api: ApiClient;
  /** The newest version of an order the page holds (undefined: deleted), from the live model. */
  latest: (id: number) => Order | undefined;
  onDone: (text: string) => void;
  /** A write failed after the dialog was closed, or the server wants a token (401). */
  onError: (context: string, err: unknown) => void;
}

export function createEditOrderDialog(root: HTMLElement, options: EditOrderDialogOptions): EditOrderDialog {
  return new EditDialog(root, options);
}

class EditDialog implements EditOrderDialog {
  private readonly options: EditOrderDialogOptions;
  private readonly dialog: HTMLDialogElement;
  private readonly form: HTMLFormElement;
  private readonly title: HTMLElement;
  private readonly alert: HTMLElement;
  private readonly actions: HTMLElement;
  private readonly choice: ConflictChoice;
  /** The version the user's input applies to: what If-Match sends. */
  private base: Order | undefined;
  private conflict: Conflict | undefined;
  /** Bumped at every open and close: an answer for an earlier session must not touch this one. */
  private session = 0;

  constructor(root: HTMLElement, options: EditOrderDialogOptions) {
    this.options = options;
    this.dialog = byTestId<HTMLDialogElement>(root, 'edit-dialog');
    this.form = this.dialog.querySelector('form')!;
    this.title = byTestId(this.dialog, 'edit-title');
    this.alert = byTestId(this.dialog, 'edit-alert');
    this.actions = byTestId(this.dialog, 'edit-actions');
    this.choice = createConflictChoice(this.dialog);
    this.field('status').append(...ORDER_STATUSES.map((s) => el('option', { value: s }, s)));
    this.form.addEventListener('submit', this.onSubmit);
    this.form.addEventListener('input', this.onInput);
    this.dialog.addEventListener('close', this.onClose);
  }

  open(order: Order): void {
    this.session += 1;
    this.base = order;
    this.conflict = undefined;
    this.title.textContent = `Order #${order.id} (version ${order.version})`;
    for (const name of EDITABLE) this.field(name).value = order[name];
    clearFieldErrors(this.form);
    this.showAlert();
    this.showActions('edit');
    this.setBusy(false);
    this.dialog.showModal();
  }

  refresh(): void {
    if (this.conflict && this.dialog.open) this.drawConflict();
  }

  private readonly onSubmit = (event: SubmitEvent) => {
    event.preventDefault();
    const submitter = event.submitter as HTMLButtonElement | null;
    const action = submitter?.value ?? 'save';
    if (action === 'cancel') return this.dialog.close();
    if (action === 'discard') return this.discard();
    if (action === 'rebase') return this.rebase();
    // Enter in a field while a conflict waits for the user's choice: the choice is theirs to make.
    if (this.conflict) return;
    void this.send(action === 'delete' ? 'delete' : 'save', submitter);
  };

  private readonly onInput = (event: Event): void => {
    clearFieldErrors(this.form, event.target as Element);
    if (this.alert.dataset.kind === 'invalid' && !firstInvalidControl(this.form)) this.showAlert();
  };

  private readonly onClose = (): void => {
    this.session += 1;
    this.conflict = undefined;
  };

  private field(name: EditableField): HTMLInputElement | HTMLSelectElement {
    return this.form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  }

  /** What the user changed, relative to `order`. */
  private changes(order: Order): Partial<NewOrder> {
    const out: Partial<NewOrder> = {};
    for (const name of EDITABLE) {
      const value = this.field(name).value;
      if (value !== order[name]) (out as Record<string, string>)[name] = value;
    }
    return out;
  }

  private showAlert(text = '', kind?: 'invalid' | 'conflict' | 'failed'): void {
    setText(this.alert, text);
    if (kind) this.alert.dataset.kind = kind;
    else delete this.alert.dataset.kind;
  }

  private setBusy(busy: boolean): void {
    for (const button of this.form.querySelectorAll('button')) button.disabled = busy;
  }

  private showActions(which: 'edit' | 'conflict'): void {
    this.actions.hidden = which !== 'edit';
    this.choice.box.hidden = which !== 'conflict';
  }

  private async send(action: Action, submitter: HTMLButtonElement | null): Promise<void> {
    const order = this.base;
    if (!order) return;
    const opened = this.session;
    clearFieldErrors(this.form);
    this.showAlert();
    this.setBusy(true);
    try {
      const text = await perform(this.options.api, action, order, this.changes(order));
      if (opened === this.session) this.dialog.close();
      this.options.onDone(text);
    } catch (err) {
      // Closed meanwhile (Escape): the page says it instead. open() re-enables the buttons.
      if (opened !== this.session) return this.options.onError(failedContext(action, order), err);
      this.setBusy(false); // before fail(): a disabled button takes no focus
      this.fail(action, order, err, submitter);
    }
  }

  /** The dialog stays open with the user's input; what went wrong is said inside it. */
  private fail(action: Action, order: Order, err: unknown, submitter: HTMLButtonElement | null): void {
    const problem = err instanceof ApiError ? err.problem : undefined;
    if (problem?.status === 412) {
      this.showConflict({ action, seen: order });
      return;
    }
    const unplaced = problem?.status === 400 ? showFieldErrors(this.form, problem.errors ?? []) : [];
    const invalid = firstInvalidControl(this.form);
    const verb = pastTense(action);
    if (invalid && unplaced.length === 0) {
      this.showAlert(
        `Order #${order.id} was not ${verb}: see the message under each marked field.`,
        'invalid',
      );
      invalid.focus();
      return;
    }
    const detail = (problem ? `${problem.title}: ${problem.detail}` : String(err)).replace(/\.?$/, '.');
    if (problem?.status === 401) this.options.onError(failedContext(action, order), err);
    this.showAlert(`Order #${order.id} was not ${verb}. ${detail} ${nextStep(problem?.status)}`, 'failed');
    (invalid ?? submitter)?.focus();
  }

  private showConflict(next: Conflict): void {
    this.conflict = next;
    this.showActions('conflict');
    this.drawConflict();
    this.choice.focus();
  }

  /** Names what the other writer changed, against the newest version the live model holds. */
  private drawConflict(): void {
    if (!this.conflict) return;
    const { seen } = this.conflict;
    const latest = this.options.latest(seen.id);
    this.showAlert(this.choice.draw(this.conflict, latest, this.changes(seen)), 'conflict');
  }

  /** Applies the user's input to the newest version and sends it again, with that version. */
  private rebase(): void {
    if (!this.conflict) return;
    const { action, seen } = this.conflict;
    const latest = this.options.latest(seen.id);
    if (!latest || latest.version <= seen.version) return;
    const mine = this.changes(seen);
    // Fields the user left alone take the other writer's values: only the user's edits are sent.
    for (const name of EDITABLE) if (!(name in mine)) this.field(name).value = latest[name];
    this.conflict = undefined;
    this.base = latest;
    this.title.textContent = `Order #${latest.id} (version ${latest.version})`;
    this.showActions('edit');
    // Should this send fail too, focus goes back to the button it stands for (the rebase one hides).
    const button = byTestId<HTMLButtonElement>(this.dialog, action === 'save' ? 'edit-save' : 'edit-delete');
    void this.send(action, button);
  }

  private discard(): void {
    const seen = this.conflict?.seen;
    const action = this.conflict?.action;
    this.dialog.close();
    if (!seen) return;
    this.options.onDone(
      action === 'save'
        ? `Order #${seen.id}: your changes were discarded.`
        : `Order #${seen.id} was not deleted.`,
    );
  }
}

async function perform(
  api: ApiClient,
  action: Action,
  order: Order,
  changed: Partial<NewOrder>,
): Promise<string> {
  if (action === 'delete') {
    await api.remove(order.id, order.version);
    return `Order #${order.id} deleted.`;
  }
  if (Object.keys(changed).length === 0) return `Order #${order.id}: nothing to change.`;
  const saved = await api.update(order.id, changed, order.version);
  return `Order #${saved.id} saved (version ${saved.version}).`;
}

/** What the user can do after a failure other than 400 and 412. */
function nextStep(status: number | undefined): string {
  // The token field is outside this modal dialog: the page marks it, the user has to close this.
  if (status === 401) return 'Close this dialog, enter a token under "API token" and edit again.';
  if (status === 404) return 'Cancel closes this dialog.';
  return 'Your input is kept: try again.';
}

function failedContext(action: Action, order: Order): string {
  return action === 'save' ? `Could not save order #${order.id}` : `Could not delete order #${order.id}`;
}
