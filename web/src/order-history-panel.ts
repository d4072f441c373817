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
import { createHistoryView, type HistorySession } from './history-view.js';
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
  { api, live, onError, fallbackFocus }: OrderHistoryPanelOptions,
): OrderHistoryPanel {
  const view = createHistoryView(root);
  const { dialog, title, olderButton } = view;
  let current: Session | undefined;
  let opener: HTMLElement | undefined;
  let frame: number | undefined;

  function start(id: number): void {
    stopDrawing();
    current = { id, history: createOrderHistory(id), queued: [], loading: false, error: undefined };
    view.clear();
    draw(current);
    void loadPage(current);
  }

  function draw(session: Session): void {
    view.draw(session, live.get(session.id));
  }

  function stopDrawing(): void {
    if (frame !== undefined) cancelAnimationFrame(frame);
    frame = undefined;
  }

  async function loadPage(session: Session): Promise<void> {
    const before = session.history.older; // undefined: the first page
    if (session.loading || before === null) return;
    session.loading = true;
    session.error = undefined;
    draw(session);
    try {
      const page = await api.history(session.id, { before, limit: HISTORY_PAGE_LIMIT });
      if (session === current) session.history.addPage(page, before);
    } catch (err) {
      if (session !== current) return;
      session.error = loadError(session.id, err);
      if (err instanceof ApiError && err.problem.status === 401)
        onError(`Could not load the history of order #${session.id}`, err);
    } finally {
      if (session === current) {
        const hadFocus = document.activeElement === olderButton;
        session.loading = false;
        draw(session);
        // The button is gone after the oldest page: the note saying so takes its place.
        if (hadFocus && olderButton.hidden) view.end.focus();
      }
    }
  }

  /** This order's live events since the last frame: into the list, and announced. */
  function drawLive(): void {
    frame = undefined;
    if (!current) return;
    const added = current.history.addLive(current.queued.splice(0));
    if (added.length === 0) return;
    draw(current);
    view.announce(added);
  }

  function focusBack(id: number): void {
    const row = root.querySelector<HTMLElement>(`tr[data-order-id="${id}"] button[data-action="history"]`);
    // A deleted order's row may not have been drawn away yet (the table draws on its own frames):
    // focus there would be lost with it.
    const inTable = live.get(id) !== undefined;
    const usable = (element: HTMLElement | null | undefined) =>
      element?.isConnected && !element.closest('[inert]') && (inTable || !element.closest('tr'))
        ? element
        : undefined;
    (usable(opener) ?? usable(row) ?? fallbackFocus()).focus();
  }

  function close(): void {
    dialog.close();
    closed();
  }

  /** After the dialog closed, however it did: no more drawing, focus back (once). */
  function closed(): void {
    const id = current?.id;
    current = undefined;
    stopDrawing();
    if (id !== undefined) focusBack(id);
  }

  // Listening from the start, before any page is asked for: nothing published after a page was
  // read can be missed. Filtering by id costs a comparison per event, even at 5,000 a second.
  live.on('event', (event) => {
    if (!current || event.order_id !== current.id) return;
    current.queued.push(event);
    frame ??= requestAnimationFrame(drawLive);
  });
  // A new snapshot: the live set may have skipped events (a resync), so the history is read again.
  live.on('reset', () => {
    if (!current) return;
    if (dialog.contains(document.activeElement)) title.focus(); // the entries it was on go away
    start(current.id);
  });
  olderButton.addEventListener('click', () => {
    if (current) void loadPage(current);
  });
  byTestId(dialog, 'history-close').addEventListener('click', close);
  // The dialog's own box is covered by its content: a click on the dialog itself is on the backdrop.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) close();
  });
  // Escape: closed here, so that focus is back before the next key (the 'close' event comes a
  // task later). Should the browser close it anyway, the 'close' event finishes the job.
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    close();
  });
  dialog.addEventListener('close', () => {
    if (!dialog.open) closed(); // not when it was opened again since
  });

  return {
    open(id, from) {
      opener = from;
      start(id);
      if (!dialog.open) dialog.showModal();
      title.focus();
    },
  };
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
