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
  return new HistoryViewImpl(root);
}

class HistoryViewImpl implements HistoryView {
  readonly dialog: HTMLDialogElement;
  readonly title: HTMLElement;
  readonly olderButton: HTMLButtonElement;
  readonly end: HTMLElement;
  private readonly state: HTMLElement;
  private readonly status: HTMLElement;
  private readonly announcer: HTMLElement;
  private readonly list: HTMLOListElement;

  constructor(root: HTMLElement) {
    this.dialog = byTestId<HTMLDialogElement>(root, 'history-panel');
    this.title = byTestId(this.dialog, 'history-title');
    this.state = byTestId(this.dialog, 'history-state');
    this.status = byTestId(this.dialog, 'history-status');
    this.announcer = byTestId(this.dialog, 'history-announce');
    this.list = byTestId<HTMLOListElement>(this.dialog, 'history-list');
    this.olderButton = byTestId<HTMLButtonElement>(this.dialog, 'history-older');
    this.end = byTestId(this.dialog, 'history-end');
  }

  clear(): void {
    this.list.replaceChildren();
    setText(this.announcer, '');
  }

  draw(session: HistorySession, order: Order | undefined): void {
    this.drawList(session.history.events);
    this.drawHeader(session, order);
    this.drawPaging(session);
  }

  announce(added: readonly OrderEvent[]): void {
    if (added.length === 0) return;
    const newest = describeEntry(added[0]!);
    // Not setText: the same words again (the same change twice) must be announced again.
    this.announcer.textContent =
      added.length === 1 ? `New: ${newest}` : `${added.length} new changes; the newest: ${newest}`;
  }

  /** Inserts the entries the list lacks: it holds a subsequence of the history's events. */
  private drawList(events: readonly OrderEvent[]): void {
    const now = new Date();
    let child = this.list.firstElementChild as HTMLElement | null;
    for (const event of events) {
      if (child && Number(child.dataset.position) === event.position) {
        child = child.nextElementSibling as HTMLElement | null;
        continue;
      }
      this.list.insertBefore(historyEntry(event, now), child);
    }
  }

  private drawHeader({ id, history }: HistorySession, order: Order | undefined): void {
    const newest = history.events[0];
    const deleted = !order && newest?.op === 'delete' ? newest : undefined;
    this.dialog.dataset.deleted = String(deleted !== undefined);
    setText(this.title, `History of order #${id}${deleted ? ' (deleted)' : ''}`);
    if (order) {
      const { customer_name, product_name, status, version } = order;
      setText(this.state, `Now: ${customer_name} · ${product_name} · ${status}, version ${version}`);
    } else if (deleted) {
      setText(this.state, `Deleted at ${formatMoment(deleted.occurred_at)} by ${deleted.actor}.`);
    } else setText(this.state, '');
  }

  private drawPaging({ history, loading, error }: HistorySession): void {
    const firstPage = history.older === undefined;
    this.olderButton.hidden = history.older === null || (firstPage && loading);
    // Not disabled while loading: a disabled button loses the focus.
    this.olderButton.setAttribute('aria-disabled', String(loading));
    setText(
      this.olderButton,
      loading ? 'Loading older changes…' : error ? 'Try again' : 'Load older changes',
    );
    this.end.hidden = history.older !== null;
    this.status.dataset.kind = error ? 'error' : '';
    const empty = history.older === null && history.events.length === 0;
    setText(
      this.status,
      error ?? (loading && firstPage ? 'Loading the history…' : empty ? 'No changes recorded yet.' : ''),
    );
  }
}
