// The history panel: one order's changes, newest first, in a modal <dialog> drawn as a side sheet
// (focus moves to its heading and stays inside, Escape or Close shuts it, focus goes back to
// where it was opened from, else to the order's row). The first page comes from
// GET /orders/:id/events, "Load older changes" asks for the next one with `before`, and while the
// panel is open the live set's events of that order join the list as they come, merged by
// position (order-history.ts), drawn at most once a frame and announced politely, each new entry
// alone: the list itself is no live region, so a loaded page is never read out whole. A failed
// load says why inside the panel, and the same button tries again. What it looks like is
// history-view.ts's; the merge, order-history.ts's.

import type { LiveOrders, OrderEvent } from '../../src/client/index.js';
import { type ApiClient, ApiError } from './api-client.js';
import { byTestId } from './dom.js';
import { createHistoryView, type HistorySession, type HistoryView } from './history-view.js';
import { createOrderHistory } from './order-history.js';

/** Events a page asks for: more than a tall panel shows, few enough to arrive at once. */
export const HISTORY_PAGE_LIMIT = 25;

export interface OrderHistoryPanel {
  /** Shows order `id`'s history; `opener` gets the focus back when the panel closes. */
  open(id: number, opener?: HTMLElement): void;
}

export interface OrderHistoryPanelOptions {
  api: Pick<ApiClient, 'history'>;
  live: Pick<LiveOrders, 'get' | 'on'>;
  /** A load needed a token (401): the page marks the token field. */
  onError: (context: string, err: unknown) => void;
  /** Where focus goes when neither the opener nor the order's row is on the page any more. */
  fallbackFocus: () => HTMLElement;
}

/** A late answer for an earlier session (another order, or before a reset) changes nothing. */
interface Session extends HistorySession {
  /** This order's live events not drawn yet: they are drawn at the next animation frame. */
  queued: OrderEvent[];
}

export function createOrderHistoryPanel(
  root: HTMLElement,
  options: OrderHistoryPanelOptions,
): OrderHistoryPanel {
  return new HistoryPanel(root, options);
}

class HistoryPanel implements OrderHistoryPanel {
  private readonly root: HTMLElement;
  private readonly options: OrderHistoryPanelOptions;
  private readonly view: HistoryView;
  private current: Session | undefined;
  private opener: HTMLElement | undefined;
  private frame: number | undefined;

  constructor(root: HTMLElement, options: OrderHistoryPanelOptions) {
    this.root = root;
    this.options = options;
    this.view = createHistoryView(root);
    this.followLive();
    this.wireDialog();
  }

  open(id: number, from?: HTMLElement): void {
    this.opener = from;
    this.start(id);
    if (!this.view.dialog.open) this.view.dialog.showModal();
    this.view.title.focus();
  }

  private followLive(): void {
    const { live } = this.options;
    // Listening from the start, before any page is asked for: nothing published after a page was
    // read can be missed. Filtering by id costs a comparison per event, even at 5,000 a second.
    live.on('event', (event) => {
      if (!this.current || event.order_id !== this.current.id) return;
      this.current.queued.push(event);
      this.frame ??= requestAnimationFrame(this.drawLive);
    });
    // A new snapshot: the live set may have skipped events (a resync), so the history is read again.
    live.on('reset', () => {
      if (!this.current) return;
      // The entries it was on go away.
      if (this.view.dialog.contains(document.activeElement)) this.view.title.focus();
      this.start(this.current.id);
    });
  }

  private wireDialog(): void {
    const { dialog, olderButton } = this.view;
    olderButton.addEventListener('click', () => {
      if (this.current) void this.loadPage(this.current);
    });
    byTestId(dialog, 'history-close').addEventListener('click', this.close);
    // The dialog's own box is covered by its content: a click on the dialog itself is on the backdrop.
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) this.close();
    });
    // Escape: closed here, so that focus is back before the next key (the 'close' event comes a
    // task later). Should the browser close it anyway, the 'close' event finishes the job.
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      this.close();
    });
    dialog.addEventListener('close', () => {
      if (!dialog.open) this.closed(); // not when it was opened again since
    });
  }

  private start(id: number): void {
    this.stopDrawing();
    this.current = { id, history: createOrderHistory(id), queued: [], loading: false, error: undefined };
    this.view.clear();
    this.draw(this.current);
    void this.loadPage(this.current);
  }

  private draw(session: Session): void {
    this.view.draw(session, this.options.live.get(session.id));
  }

  private stopDrawing(): void {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    this.frame = undefined;
  }

  private async loadPage(session: Session): Promise<void> {
    const before = session.history.older; // undefined: the first page
    if (session.loading || before === null) return;
    session.loading = true;
    session.error = undefined;
    this.draw(session);
    try {
      const page = await this.options.api.history(session.id, { before, limit: HISTORY_PAGE_LIMIT });
      if (session === this.current) session.history.addPage(page, before);
    } catch (err) {
      if (session !== this.current) return;
      session.error = loadError(session.id, err);
      if (err instanceof ApiError && err.problem.status === 401)
        this.options.onError(`Could not load the history of order #${session.id}`, err);
    } finally {
      if (session === this.current) this.loaded(session);
    }
  }

  private loaded(session: Session): void {
    const hadFocus = document.activeElement === this.view.olderButton;
    session.loading = false;
    this.draw(session);
    // The button is gone after the oldest page: the note saying so takes its place.
    if (hadFocus && this.view.olderButton.hidden) this.view.end.focus();
  }

  /** This order's live events since the last frame: into the list, and announced. */
  private readonly drawLive = (): void => {
    this.frame = undefined;
    if (!this.current) return;
    const added = this.current.history.addLive(this.current.queued.splice(0));
    if (added.length === 0) return;
    this.draw(this.current);
    this.view.announce(added);
  };

  private focusBack(id: number): void {
    const row = this.root.querySelector<HTMLElement>(
      `tr[data-order-id="${id}"] button[data-action="history"]`,
    );
    // A deleted order's row may not have been drawn away yet (the table draws on its own frames):
    // focus there would be lost with it.
    const inTable = this.options.live.get(id) !== undefined;
    const usable = (element: HTMLElement | null | undefined) =>
      element?.isConnected && !element.closest('[inert]') && (inTable || !element.closest('tr'))
        ? element
        : undefined;
    (usable(this.opener) ?? usable(row) ?? this.options.fallbackFocus()).focus();
  }

  private readonly close = (): void => {
    this.view.dialog.close();
    this.closed();
  };

  /** After the dialog closed, however it did: no more drawing, focus back (once). */
  private closed(): void {
    const id = this.current?.id;
    this.current = undefined;
    this.stopDrawing();
    if (id !== undefined) this.focusBack(id);
  }
}

function loadError(id: number, err: unknown): string {
  const problem = err instanceof ApiError ? err.problem : undefined;
  if (problem?.status === 404)
    return `No change of order #${id} is recorded: it never existed, or its events are past retention.`;
  if (problem?.status === 401)
    return 'The server needs a valid API token: close this panel and enter one under "API token".';
  const detail = problem ? `${problem.title}: ${problem.detail}` : String(err);
  return `Could not load the history. ${detail.replace(/\.?$/, '.')}`;
}
