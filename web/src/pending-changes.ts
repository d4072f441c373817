// What happened since the last frame, as the live set (src/client) reported it: every event for
// the feed and the latency meter, and the changes folded per row, so the table touches each
// changed row once per frame however many events it had (5 updates of one row in a frame: one
// DOM update, showing the first old value → the last new one). Pure, no DOM.

import type { Order, OrderChange, OrderEvent } from '../../src/client/index.js';
import type { LiveSample } from './latency-meter.js';

/** How a row is drawn: an added order appears as new, a removed one fades out. */
export type RowChangeKind = 'insert' | 'update' | 'delete';

export interface RowChange {
  kind: RowChangeKind;
  /** `{field: [old, new]}` over the frame, for updates. */
  changes: Record<string, [unknown, unknown]>;
}

export interface FrameChanges {
  /** A truncate in this frame: clear everything first, then apply `rows`. */
  truncate: OrderEvent | null;
  rows: Map<number, RowChange>;
  /** The newest events received (applied or not), at most the feed's length, oldest first. */
  feed: OrderEvent[];
  /** The live events of this frame, captured and received when, for the latency meter. */
  live: LiveSample[];
  /** Every event received since the last frame, for the live chart (the lists above are capped). */
  events: number;
}

export interface PendingChanges {
  /**
   * Records one event received at `receivedAt` (performance.now()); `live` (not replayed) ones
   * count for the latency meter.
   */
  event(event: OrderEvent, live: boolean, receivedAt: number): void;
  /** Records one change of a row; `order` is the order now, undefined when it left the view. */
  change(change: OrderChange, order: Order | undefined): void;
  /**
   * The view was replaced by a snapshot, which the table redraws whole: the row changes recorded
   * so far describe the view it replaced. The feed and the latency samples stay.
   */
  reset(): void;
  readonly empty: boolean;
  /** Everything since the last take, and starts afresh. */
  take(): FrameChanges;
}

export function createPendingChanges(feedLimit: number, latencyLimit: number): PendingChanges {
  let frame = fresh();
  let empty = true;

  function addUpdate(id: number, event: OrderEvent): void {
    const before = frame.rows.get(id);
    if (before?.kind === 'insert') return; // still new to the screen: it shows the last state
    const changes = before?.changes ?? {};
    for (const [field, [from, to]] of Object.entries(event.changes ?? {})) {
      changes[field] = [field in changes ? changes[field]![0] : from, to];
    }
    frame.rows.set(id, { kind: 'update', changes });
  }

  return {
    event(event, live, receivedAt) {
      empty = false;
      frame.events += 1;
      frame.feed.push(event);
      // Keeping twice the limit and trimming in one go costs less than a shift() per event.
      if (frame.feed.length > 2 * feedLimit) frame.feed = frame.feed.slice(-feedLimit);
      if (live) {
        frame.live.push({ occurredAt: event.occurred_at, receivedAt });
        if (frame.live.length > 2 * latencyLimit) frame.live = frame.live.slice(-latencyLimit);
      }
    },
    change(change, order) {
      empty = false;
      if (change.kind === 'cleared') {
        frame.rows.clear();
        frame.truncate = change.event;
        return;
      }
      const id = (order ?? change.previous)?.id;
      if (id === undefined) return;
      if (change.kind === 'updated') addUpdate(id, change.event);
      else frame.rows.set(id, { kind: change.kind === 'added' ? 'insert' : 'delete', changes: {} });
    },
    reset() {
      frame.rows.clear();
      frame.truncate = null;
    },
    get empty() {
      return empty;
    },
    take() {
      const taken = frame;
      taken.feed = taken.feed.slice(-feedLimit);
      taken.live = taken.live.slice(-latencyLimit);
      frame = fresh();
      empty = true;
      return taken;
    },
  };
}

function fresh(): FrameChanges {
  return { truncate: null, rows: new Map(), feed: [], live: [], events: 0 };
}
