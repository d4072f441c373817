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
import { describeChanges } from './format.js';

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

type Action = 'save' | 'delete';

/** A 412: `action` was refused because the order had moved on from `seen`. */
interface Conflict {
  action: Action;
  seen: Order;
}

const EDITABLE = ['customer_name', 'product_name', 'status'] as const;

export function createEditOrderDialog(root: HTMLElement, options: EditOrderDialogOptions): EditOrderDialog {
  const dialog = byTestId<HTMLDialogElement>(root, 'edit-dialog');
  const form = dialog.querySelector('form')!;
  const title = byTestId(dialog, 'edit-title');
  const alert = byTestId(dialog, 'edit-alert');
  const actions = byTestId(dialog, 'edit-actions');
  const conflictActions = byTestId(dialog, 'conflict-actions');
  const rebaseButton = byTestId<HTMLButtonElement>(dialog, 'edit-rebase');
  const discardButton = byTestId<HTMLButtonElement>(dialog, 'edit-discard');
  const field = (name: (typeof EDITABLE)[number]) =>
    form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  field('status').append(...ORDER_STATUSES.map((s) => el('option', { value: s }, s)));
  /** The version the user's input applies to: what If-Match sends. */
  let base: Order | undefined;
  let conflict: Conflict | undefined;
  /** Bumped at every open and close: an answer for an earlier session must not touch this one. */
  let session = 0;

  /** What the user changed, relative to `order`. */
  function changes(order: Order): Partial<NewOrder> {
    const out: Partial<NewOrder> = {};
    for (const name of EDITABLE) {
      const value = field(name).value;
      if (value !== order[name]) (out as Record<string, string>)[name] = value;
    }
    return out;
  }

  function showAlert(text = '', kind?: 'invalid' | 'conflict' | 'failed'): void {
    setText(alert, text);
    if (kind) alert.dataset.kind = kind;
    else delete alert.dataset.kind;
  }

  function setBusy(busy: boolean): void {
    for (const button of form.querySelectorAll('button')) button.disabled = busy;
  }

  function showActions(which: 'edit' | 'conflict'): void {
    actions.hidden = which !== 'edit';
    conflictActions.hidden = which !== 'conflict';
  }

  async function send(action: Action, submitter: HTMLButtonElement | null): Promise<void> {
    const order = base;
    if (!order) return;
    const opened = session;
    clearFieldErrors(form);
    showAlert();
    setBusy(true);
    try {
      const text = await perform(options.api, action, order, changes(order));
      if (opened === session) dialog.close();
      options.onDone(text);
    } catch (err) {
      // Closed meanwhile (Escape): the page says it instead. open() re-enables the buttons.
      if (opened !== session) return options.onError(failedContext(action, order), err);
      setBusy(false); // before fail(): a disabled button takes no focus
      fail(action, order, err, submitter);
    }
  }

  /** The dialog stays open with the user's input; what went wrong is said inside it. */
  function fail(action: Action, order: Order, err: unknown, submitter: HTMLButtonElement | null): void {
    const problem = err instanceof ApiError ? err.problem : undefined;
    if (problem?.status === 412) {
      showConflict({ action, seen: order });
      return;
    }
    const unplaced = problem?.status === 400 ? showFieldErrors(form, problem.errors ?? []) : [];
    const invalid = firstInvalidControl(form);
    const verb = action === 'save' ? 'saved' : 'deleted';
    if (invalid && unplaced.length === 0) {
      showAlert(`Order #${order.id} was not ${verb}: see the message under each marked field.`, 'invalid');
      invalid.focus();
      return;
    }
    const detail = (problem ? `${problem.title}: ${problem.detail}` : String(err)).replace(/\.?$/, '.');
    if (problem?.status === 401) options.onError(failedContext(action, order), err);
    showAlert(`Order #${order.id} was not ${verb}. ${detail} ${nextStep(problem?.status)}`, 'failed');
    (invalid ?? submitter)?.focus();
  }

  function showConflict(next: Conflict): void {
    conflict = next;
    showActions('conflict');
    drawConflict();
    (rebaseButton.hidden || rebaseButton.disabled ? discardButton : rebaseButton).focus();
  }

  /** Names what the other writer changed, against the newest version the live model holds. */
  function drawConflict(): void {
    if (!conflict) return;
    const { action, seen } = conflict;
    const latest = options.latest(seen.id);
    const verb = action === 'save' ? 'saved' : 'deleted';
    rebaseButton.hidden = !latest;
    rebaseButton.disabled = !latest || latest.version <= seen.version;
    setText(discardButton, latest ? 'Discard my changes' : 'Close');
    if (!latest) {
      showAlert(`Order #${seen.id} was deleted while you edited it. Nothing was ${verb}.`, 'conflict');
      return;
    }
    if (latest.version <= seen.version) {
      // The 412 came before the event that caused it: refresh() redraws when it arrives.
      showAlert(`Order #${seen.id} was changed by someone else; loading the new version…`, 'conflict');
      return;
    }
    setText(
      rebaseButton,
      action === 'save'
        ? `Use my values on version ${latest.version}`
        : `Delete version ${latest.version} anyway`,
    );
    showAlert(conflictText(seen, latest, action === 'save' ? changes(seen) : {}, verb), 'conflict');
  }

  /** Applies the user's input to the newest version and sends it again, with that version. */
  function rebase(): void {
    if (!conflict) return;
    const { action, seen } = conflict;
    const latest = options.latest(seen.id);
    if (!latest || latest.version <= seen.version) return;
    const mine = changes(seen);
    // Fields the user left alone take the other writer's values: only the user's edits are sent.
    for (const name of EDITABLE) if (!(name in mine)) field(name).value = latest[name];
    conflict = undefined;
    base = latest;
    title.textContent = `Order #${latest.id} (version ${latest.version})`;
    showActions('edit');
    // Should this send fail too, focus goes back to the button it stands for (the rebase one hides).
    void send(action, byTestId<HTMLButtonElement>(dialog, action === 'save' ? 'edit-save' : 'edit-delete'));
  }

  function discard(): void {
    const seen = conflict?.seen;
    const action = conflict?.action;
    dialog.close();
    if (seen) {
      options.onDone(
        action === 'save'
          ? `Order #${seen.id}: your changes were discarded.`
          : `Order #${seen.id} was not deleted.`,
      );
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const submitter = event.submitter as HTMLButtonElement | null;
    const action = submitter?.value ?? 'save';
    if (action === 'cancel') return dialog.close();
    if (action === 'discard') return discard();
    if (action === 'rebase') return rebase();
    // Enter in a field while a conflict waits for the user's choice: the choice is theirs to make.
    if (conflict) return;
    void send(action === 'delete' ? 'delete' : 'save', submitter);
  });

  form.addEventListener('input', (event) => {
    clearFieldErrors(form, event.target as Element);
    if (alert.dataset.kind === 'invalid' && !firstInvalidControl(form)) showAlert();
  });

  dialog.addEventListener('close', () => {
    session += 1;
    conflict = undefined;
  });

  return {
    open(order) {
      session += 1;
      base = order;
      conflict = undefined;
      title.textContent = `Order #${order.id} (version ${order.version})`;
      for (const name of EDITABLE) field(name).value = order[name];
      clearFieldErrors(form);
      showAlert();
      showActions('edit');
      setBusy(false);
      dialog.showModal();
    },
    refresh() {
      if (conflict && dialog.open) drawConflict();
    },
  };
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

/** "Order #3 was changed by someone else (version 2 → 3): product: A → B. …" */
function conflictText(seen: Order, latest: Order, mine: Partial<NewOrder>, verb: string): string {
  const theirs: Record<string, [unknown, unknown]> = {};
  for (const name of EDITABLE) if (seen[name] !== latest[name]) theirs[name] = [seen[name], latest[name]];
  const what = Object.keys(theirs).length > 0 ? `: ${describeChanges(theirs)}` : '';
  const both = EDITABLE.filter((name) => name in theirs && name in mine && mine[name] !== latest[name]);
  const clash = both.length > 0 ? ` Your ${both.map(label).join(' and ')} would replace theirs.` : '';
  return (
    `Order #${seen.id} was changed by someone else while you edited it ` +
    `(version ${seen.version} → ${latest.version})${what}. Nothing was ${verb}; your input is kept.${clash}`
  );
}

function label(name: (typeof EDITABLE)[number]): string {
  return name === 'status' ? 'status' : name.replace('_name', '');
}
