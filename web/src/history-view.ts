// What the history panel shows, drawn from where its loading stands: the entries (inserted in
// place, never rebuilt, so a screen reader keeps its place in the list), the heading and the
// order now (or when it was deleted), the "older" button, the status line, and the polite
// announcement of entries that arrived live.

import type { Order, OrderEvent } from '../../src/contract/events.js';
import { byTestId, setText } from './dom.js';
import { formatMoment } from './format.js';
import { describeEntry, historyEntry } from './history-entry.js';
import type { OrderHistory } from './order-history.js';

/** One opening of the panel for one order. */
export interface HistorySession {
  id: number;
  history: OrderHistory;
  /** A page is being asked for. */
  loading: boolean;
  /** Why the last page failed, in words; undefined after a success. */
  error: string | undefined;
}

export interface HistoryView {
  readonly dialog: HTMLDialogElement;
  readonly title: HTMLElement;
  readonly olderButton: HTMLButtonElement;
  /** The note that takes the older button's place once the oldest page is shown. */
  readonly end: HTMLElement;
  clear(): void;
  /** Draws everything; `order` is the order now (undefined: deleted, or not in the live set). */
  draw(session: HistorySession, order: Order | undefined): void;
  /** Says what arrived live (newest first): the newest entry, and how many came. */
  announce(added: readonly OrderEvent[]): void;
}

export function createHistoryView(root: HTMLElement): HistoryView {
  const dialog = byTestId<HTMLDialogElement>(root, 'history-panel');
  const title = byTestId(dialog, 'history-title');
  const state = byTestId(dialog, 'history-state');
  const status = byTestId(dialog, 'history-status');
  const announcer = byTestId(dialog, 'history-announce');
  const list = byTestId<HTMLOListElement>(dialog, 'history-list');
  const olderButton = byTestId<HTMLButtonElement>(dialog, 'history-older');
  const end = byTestId(dialog, 'history-end');

  /** Inserts the entries the list lacks: it holds a subsequence of the history's events. */
  function drawList(events: readonly OrderEvent[]): void {
    const now = new Date();
    let child = list.firstElementChild as HTMLElement | null;
    for (const event of events) {
      if (child && Number(child.dataset.position) === event.position) {
        child = child.nextElementSibling as HTMLElement | null;
        continue;
      }
      list.insertBefore(historyEntry(event, now), child);
    }
  }

  function drawHeader({ id, history }: HistorySession, order: Order | undefined): void {
    const newest = history.events[0];
    const deleted = !order && newest?.op === 'delete' ? newest : undefined;
    dialog.dataset.deleted = String(deleted !== undefined);
    setText(title, `History of order #${id}${deleted ? ' (deleted)' : ''}`);
    if (order) {
      const { customer_name, product_name, status, version } = order;
      setText(state, `Now: ${customer_name} · ${product_name} · ${status}, version ${version}`);
    } else if (deleted) {
      setText(state, `Deleted at ${formatMoment(deleted.occurred_at)} by ${deleted.actor}.`);
    } else setText(state, '');
  }

  function drawPaging({ history, loading, error }: HistorySession): void {
    const firstPage = history.older === undefined;
    olderButton.hidden = history.older === null || (firstPage && loading);
    // Not disabled while loading: a disabled button loses the focus.
    olderButton.setAttribute('aria-disabled', String(loading));
    setText(olderButton, loading ? 'Loading older changes…' : error ? 'Try again' : 'Load older changes');
    end.hidden = history.older !== null;
    status.dataset.kind = error ? 'error' : '';
    const empty = history.older === null && history.events.length === 0;
    setText(
      status,
      error ?? (loading && firstPage ? 'Loading the history…' : empty ? 'No changes recorded yet.' : ''),
    );
  }

  return {
    dialog,
    title,
    olderButton,
    end,
    clear() {
      list.replaceChildren();
      setText(announcer, '');
    },
    draw(session, order) {
      drawList(session.history.events);
      drawHeader(session, order);
      drawPaging(session);
    },
    announce(added) {
      if (added.length === 0) return;
      const newest = describeEntry(added[0]!);
      // Not setText: the same words again (the same change twice) must be announced again.
      announcer.textContent =
        added.length === 1 ? `New: ${newest}` : `${added.length} new changes; the newest: ${newest}`;
    },
  };
}
