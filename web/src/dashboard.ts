// The composition root of the page: the live model (live-orders.ts) drawn once per animation
// frame (frame-scheduler.ts) into the table, counters, feed and connection line, and the forms
// that write through the API.

import type { OrderEvent } from '../../src/contract/events.js';
import { ApiError, createApiClient } from './api-client.js';
import { type ConnectionStatus, createConnectionStatus } from './connection-status.js';
import { wireCreateOrderForm } from './create-order-form.js';
import { byTestId, setText } from './dom.js';
import { createEditOrderDialog } from './edit-order-dialog.js';
import { createEventFeed } from './event-feed.js';
import { formatTime } from './format.js';
import { createFrameScheduler } from './frame-scheduler.js';
import { createLatencyMeter } from './latency-meter.js';
import { createLiveOrders, type LiveOrders } from './live-orders.js';
import { createMessages, wireDismiss } from './messages.js';
import { createOrdersTable, type OrdersTable } from './orders-table.js';
import { createStatusCounters } from './status-counters.js';
import { wireTableFilter } from './table-filter.js';
import { createTokenField } from './token-field.js';

/** The latency readout is rewritten at most this often: a number changing 60 times a second is unreadable. */
const LATENCY_REFRESH_MS = 250;

export function startDashboard(root: HTMLElement): void {
  const status = createConnectionStatus(root);
  const messages = createMessages(root);
  const token = createTokenField(root, () => live.retry());
  const api = createApiClient({ token: token.get });
  const onError = (context: string, err: unknown) => {
    messages.error(context, err);
    if (err instanceof ApiError && err.problem.status === 401) token.markNeeded();
  };
  const table = createOrdersTable({
    table: byTestId<HTMLTableElement>(root, 'orders-table'),
    summary: byTestId(root, 'row-summary'),
    onEdit: (id) => {
      const order = live.store.get(id);
      if (order && root.dataset.access !== 'read') dialog.open(order);
    },
  });
  const dialog = createEditOrderDialog(root, {
    api,
    latest: (id) => live.store.get(id),
    onDone: (text) => messages.info(text),
    onError,
  });
  wireCreateOrderForm(root, { api, onCreated: (id) => messages.info(`Order #${id} created.`), onError });
  wireTableFilter(root, (filter) => table.setFilter(filter, live.store));
  wireDismiss(root, messages);

  const draw = createFrameDrawing(root, status);
  const scheduler = createFrameScheduler((now) => {
    draw(live, table, now);
    dialog.refresh();
  });
  const live = createLiveOrders({
    api,
    token: token.get,
    onChange: () => scheduler.schedule(),
    onSnapshot() {
      table.reload(live.store);
      draw(live, table, Date.now());
      dialog.refresh();
    },
    onState(state, detail) {
      status.setState(state, detail);
      if (state === 'unauthorized') token.markNeeded();
    },
    onAccess(access) {
      // A read-only token: the controls that change orders are hidden (styles.css) and the
      // edit dialog does not open.
      root.dataset.access = access.access;
      token.showAccess(access);
    },
    onLoadError: (err) => onError('Could not load the orders (retrying)', err),
    onLoadRecovered: () => messages.clear(),
  });
  live.start();
}

/** One frame: what changed since the last one, into the table, feed, counters and readouts. */
function createFrameDrawing(root: HTMLElement, status: ConnectionStatus) {
  const counters = createStatusCounters(byTestId(root, 'counters'));
  const feed = createEventFeed(byTestId(root, 'feed'));
  const notice = byTestId(root, 'notice');
  const latency = createLatencyMeter();
  let latencyShownAt = 0;

  return (live: LiveOrders, table: OrdersTable, now: number): void => {
    const frame = live.pending.take();
    if (frame.truncate) showTruncate(notice, frame.truncate);
    table.render(live.store, frame.rows, frame.truncate !== null);
    feed.add(frame.feed);
    for (const occurredAt of frame.occurred) latency.record(occurredAt, now);
    counters.update(live.store.counts(), live.store.size);
    const position = live.position();
    if (position !== undefined) status.setPosition(position);
    if (frame.occurred.length > 0 && now - latencyShownAt >= LATENCY_REFRESH_MS) {
      latencyShownAt = now;
      status.setLatency(latency.summary());
    }
  };
}

function showTruncate(notice: HTMLElement, event: OrderEvent): void {
  notice.hidden = false;
  setText(
    notice,
    `The orders table was emptied (TRUNCATE) at ${formatTime(event.occurred_at)} by ${event.actor} (${event.source}).`,
  );
}
