// The edit dialog's answer to a 412: its two buttons (use my values on the newest version, or
// discard them) and the words naming what the other writer changed. It only writes its buttons and
// returns text; which version is the newest is the live model's to say.

import type { Order } from '../../src/contract/events.js';
import type { NewOrder } from './api-client.js';
import { byTestId, setText } from './dom.js';
import { describeChanges } from './format.js';

/** The fields the edit dialog shows and sends. */
export const EDITABLE = ['customer_name', 'product_name', 'status'] as const;
export type EditableField = (typeof EDITABLE)[number];

export type Action = 'save' | 'delete';

/** A 412: `action` was refused because the order had moved on from `seen`. */
export interface Conflict {
  action: Action;
  seen: Order;
}

export interface ConflictChoice {
  /** The buttons' box, shown instead of the edit actions while a conflict waits. */
  readonly box: HTMLElement;
  /**
   * Sets the buttons against `latest` (undefined: deleted) and returns what the alert says;
   * `mine` is what the user changed relative to the version they saw.
   */
  draw(conflict: Conflict, latest: Order | undefined, mine: Partial<NewOrder>): string;
  /** Focuses the choice to offer first: my values when there is a newer version, else discard. */
  focus(): void;
}

export function createConflictChoice(dialog: HTMLElement): ConflictChoice {
  const box = byTestId(dialog, 'conflict-actions');
  const rebase = byTestId<HTMLButtonElement>(dialog, 'edit-rebase');
  const discard = byTestId<HTMLButtonElement>(dialog, 'edit-discard');
  return {
    box,
    draw({ action, seen }, latest, mine) {
      const verb = pastTense(action);
      rebase.hidden = !latest;
      rebase.disabled = !latest || latest.version <= seen.version;
      setText(discard, latest ? 'Discard my changes' : 'Close');
      if (!latest) return `Order #${seen.id} was deleted while you edited it. Nothing was ${verb}.`;
      // The 412 came before the event that caused it: refresh() redraws when it arrives.
      if (latest.version <= seen.version)
        return `Order #${seen.id} was changed by someone else; loading the new version…`;
      setText(
        rebase,
        action === 'save'
          ? `Use my values on version ${latest.version}`
          : `Delete version ${latest.version} anyway`,
      );
      return conflictText(seen, latest, action === 'save' ? mine : {}, verb);
    },
    focus() {
      (rebase.hidden || rebase.disabled ? discard : rebase).focus();
    },
  };
}

export function pastTense(action: Action): string {
  return action === 'save' ? 'saved' : 'deleted';
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

function label(name: EditableField): string {
  return name === 'status' ? 'status' : name.replace('_name', '');
}
