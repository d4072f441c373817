// The composition root of the page: the live set of orders (src/client: snapshot, stream, resume,
// reload and reconnect, the one implementation of them) drawn once per animation frame
// (frame-scheduler.ts) into the table, counters, feed, live chart and connection line, the forms
// that write through the API, and an order's history panel.

import {
  createLiveOrders,
  type LiveOrders,
  type LiveStatus,
  type Order,
  type OrderEvent,
} from '../../src/client/index.js';
import { type AccessReader, createAccessReader } from './access-reader.js';
import { ApiError, createApiClient } from './api-client.js';
import { type ConnectionStatus, createConnectionStatus } from './connection-status.js';
import { wireCreateOrderForm } from './create-order-form.js';
import { byTestId, setText } from './dom.js';
import { createEditOrderDialog, type EditOrderDialog } from './edit-order-dialog.js';
import { createEventFeed, type EventFeed, FEED_LIMIT } from './event-feed.js';
import { formatTime } from './format.js';
import { createFrameScheduler, type FrameScheduler } from './frame-scheduler.js';
import { createLatencyMeter, type FrameDoneAt, LATENCY_SAMPLES, type LatencyMeter } from './latency-meter.js';
import { createLiveChart, type LiveChart } from './live-chart.js';
import { createMessages, type Messages, wireDismiss } from './messages.js';
import { createOrderHistoryPanel } from './order-history-panel.js';
import { createOrdersTable, type OrdersTable } from './orders-table.js';
import { createPendingChanges, type FrameChanges, type PendingChanges } from './pending-changes.js';
import { createStatusCounters, type StatusCounters } from './status-counters.js';
import { createStatusCounts, type StatusCounts } from './status-counts.js';
import { wireTableFilter } from './table-filter.js';
import { createTokenField, type TokenField } from './token-field.js';

/** The latency readout is rewritten at most this often: a number changing 60 times a second is unreadable. */
const LATENCY_REFRESH_MS = 250;

export function startDashboard(root: HTMLElement): void {
  const status = createConnectionStatus(root);
  const messages = createMessages(root);
  const token = createTokenField(root, () => tokenChanged(access, live));
  const api = createApiClient({ token: token.get });
  const access = createAccessReader(root, api, token);
  const onError = errorReporter(messages, token);
  const table = createOrdersTable({
    table: byTestId<HTMLTableElement>(root, 'orders-table'),
    summary: byTestId(root, 'row-summary'),
    onEdit: (id) => editOrder(root, dialog, live.get(id)),
    onHistory: (id, opener) => history.open(id, opener),
  });
  const dialog = createEditOrderDialog(root, {
    api,
    latest: (id) => live.get(id),
    onDone: (text) => messages.info(text),
    onError,
  });
  wireCreateOrderForm(root, { api, onCreated: (id) => messages.info(`Order #${id} created.`), onError });
  wireTableFilter(root, (filter) => table.setFilter(filter, live));
  wireDismiss(root, messages);

  const pending = createPendingChanges(FEED_LIMIT, LATENCY_SAMPLES);
  const counts = createStatusCounts();
  const drawing = new FrameDrawing(
    root,
    { status, table, pending, counts },
    (id, opener) => history.open(id, opener),
    () => scheduler.schedule(),
  );
  const scheduler = createFrameScheduler(
    () => {
      drawing.draw(live);
      dialog.refresh();
    },
    (at) => drawing.done(at),
  );
  const page: PageParts = { status, messages, token, access, table, dialog, pending, counts, scheduler };
  const live = followOrders(page);
  const history = createOrderHistoryPanel(root, {
    api,
    live,
    onError,
    fallbackFocus: () => byTestId(root, 'orders-heading'),
  });
  // What the token allows first: a read-only token's rows are never drawn with edit buttons.
  // How following fails (a refused handshake) reaches the 'error' and 'status' listeners.
  void access.read().then(() => live.start().catch(() => undefined));
}

/** Errors go to the messages; a 401 also marks the token field. */
function errorReporter(messages: Messages, token: TokenField): (context: string, err: unknown) => void {
  return (context, err) => {
    messages.error(context, err);
    if (err instanceof ApiError && err.problem.status === 401) token.markNeeded();
  };
}

/** A row's Edit button: a read-only token's page opens no dialog. */
function editOrder(root: HTMLElement, dialog: EditOrderDialog, order: Order | undefined): void {
  if (order && root.dataset.access !== 'read') dialog.open(order);
}

/** A new token: what it allows is read again, and the live set tries it. */
function tokenChanged(access: AccessReader, live: LiveOrders): void {
  void access.read();
  // Before start() this does nothing (the load about to start reads the new token); after a
  // refused token or handshake it tries the new one at once.
  live.reconnect();
}

/** The parts of the page the live set's events go to. */
interface PageParts {
  status: ConnectionStatus;
  messages: Messages;
  token: TokenField;
  access: AccessReader;
  table: OrdersTable;
  dialog: EditOrderDialog;
  pending: PendingChanges;
  counts: StatusCounts;
  scheduler: FrameScheduler;
}

/** A live set whose events are recorded for the next frame, and whose status and errors are shown. */
function followOrders(page: PageParts): LiveOrders {
  const orders = createLiveOrders({ token: page.token.get });
  let shown: LiveStatus = orders.status;
  let loadFailed = false;

  orders.on('event', (event, live) => {
    // Called from the socket's message handler: this is when the page received the event.
    page.pending.event(event, live, performance.now());
    page.scheduler.schedule();
  });
  orders.on('change', (change, order) => {
    page.pending.change(change, order);
    page.counts.change(change, order);
  });
  orders.on('reset', () => {
    if (loadFailed) page.messages.clear();
    loadFailed = false;
    // GET /access failed before this snapshot loaded (the server was down): the API answers now.
    if (!page.access.known) void page.access.read();
    page.pending.reset();
    page.counts.reset(orders.all());
    page.table.reload(orders);
    page.dialog.refresh();
    page.scheduler.schedule();
  });
  orders.on('status', (next, detail) => {
    page.status.setStatus(next, detail);
    if (next === 'unauthorized' && shown !== 'unauthorized') page.token.markNeeded();
    // A new snapshot, perhaps of a restored server whose tokens changed.
    if (next === 'reloading') void page.access.read();
    shown = next;
    page.scheduler.schedule(); // `ready` may have moved the position
  });
  orders.on('error', (error, fatal) => {
    // A refusal (fatal, or a refused token) is the status line's and the token field's to show.
    if (!fatal && error.code !== 'unauthorized') {
      loadFailed = true;
      page.messages.error('Could not load the orders (retrying)', error);
    }
  });
  return orders;
}

type FrameParts = Pick<PageParts, 'status' | 'table' | 'pending' | 'counts'>;

/**
 * One frame: what changed since the last one, into the table, feed, counters and readouts; and,
 * once that frame is done, its live events' latencies into the meter and the live chart.
 */
class FrameDrawing {
  private readonly parts: FrameParts;
  private readonly requestFrame: () => void;
  private readonly counters: StatusCounters;
  private readonly feed: EventFeed;
  private readonly notice: HTMLElement;
  private readonly latency: LatencyMeter;
  private readonly chart: LiveChart;
  /** What the last render drew, until its frame is done. */
  private drawn: Pick<FrameChanges, 'live' | 'events'> = NOTHING_DRAWN;
  /** The meter has samples the readout does not show yet. */
  private latencyStale = false;
  /** performance.now() when the readout was last written. */
  private latencyShownAt = Number.NEGATIVE_INFINITY;
  private latencyRefresh: ReturnType<typeof setTimeout> | undefined;

  constructor(
    root: HTMLElement,
    parts: FrameParts,
    onHistory: (id: number, opener: HTMLElement) => void,
    requestFrame: () => void,
  ) {
    this.parts = parts;
    this.requestFrame = requestFrame;
    this.counters = createStatusCounters(byTestId(root, 'counters'));
    this.feed = createEventFeed(byTestId(root, 'feed'), onHistory);
    this.notice = byTestId(root, 'notice');
    this.latency = createLatencyMeter();
    this.chart = createLiveChart(byTestId(root, 'chart'));
  }

  draw(live: LiveOrders): void {
    const { status, table, pending, counts } = this.parts;
    const frame = pending.take();
    if (frame.truncate) showTruncate(this.notice, frame.truncate);
    table.render(live, frame.rows, frame.truncate !== null);
    this.feed.add(frame.feed);
    this.counters.update(counts.current, live.size);
    const position = live.position;
    if (position !== undefined) status.setPosition(position);
    if (this.latencyStale && performance.now() - this.latencyShownAt >= LATENCY_REFRESH_MS) {
      this.latencyShownAt = performance.now();
      this.latencyStale = false;
      status.setLatency(this.latency.summary());
    }
    this.drawn = frame;
  }

  done(at: FrameDoneAt): void {
    const { live, events } = this.drawn;
    this.drawn = NOTHING_DRAWN;
    this.chart.record(at.wallMs, events, this.latency.record(live, at));
    if (live.length > 0) this.latencyStale = true;
    if (!this.latencyStale || this.latencyRefresh !== undefined) return;
    // The samples are known only now, after their frame. The frames of the next events show
    // them; when none came, this one does, a refresh later: never a frame of its own right
    // behind the one it measured, competing with the next event's.
    this.latencyRefresh = setTimeout(() => {
      this.latencyRefresh = undefined;
      if (this.latencyStale) this.requestFrame();
    }, LATENCY_REFRESH_MS);
  }
}

const NOTHING_DRAWN: Pick<FrameChanges, 'live' | 'events'> = { live: [], events: 0 };

function showTruncate(notice: HTMLElement, event: OrderEvent): void {
  notice.hidden = false;
  setText(
    notice,
    `The orders table was emptied (TRUNCATE) at ${formatTime(event.occurred_at)} by ${event.actor} (${event.source}).`,
  );
}
