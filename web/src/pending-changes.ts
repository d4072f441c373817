// What happened since the last frame, folded per row: the table then touches each changed row
// once per frame however many events it had (5 updates of one row in a frame: one DOM update,
// showing the first old value → the last new one). Pure, no DOM.

import type { OrderEvent } from '../../src/contract/events.js';
import type { AppliedChange } from './order-store.js';

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
  /** occurred_at of the live events of this frame, for the latency meter. */
  occurred: string[];
}

export interface PendingChanges {
  /** Records one received event and what it did to the model (null: nothing). */
  add(event: OrderEvent, applied: AppliedChange | null, live: boolean): void;
  readonly empty: boolean;
  /** Everything since the last take, and starts afresh. */
  take(): FrameChanges;
}

export function createPendingChanges(feedLimit: number, latencyLimit: number): PendingChanges {
  let frame = fresh();
  let empty = true;

  function addRow(applied: AppliedChange, event: OrderEvent): void {
    if (applied.kind === 'truncate') {
      frame.rows.clear();
      frame.truncate = event;
      return;
    }
    const id = applied.order.id;
    const before = frame.rows.get(id);
    if (applied.kind === 'update') {
      if (before?.kind === 'insert') return; // still new to the screen: it shows the last state
      const changes = before?.changes ?? {};
      for (const [field, [from, to]] of Object.entries(event.changes ?? {})) {
        changes[field] = [field in changes ? changes[field]![0] : from, to];
      }
      frame.rows.set(id, { kind: 'update', changes });
      return;
    }
    frame.rows.set(id, { kind: applied.kind, changes: {} });
  }

  return {
    add(event, applied, live) {
      empty = false;
      if (applied) addRow(applied, event);
      frame.feed.push(event);
      // Keeping twice the limit and trimming in one go costs less than a shift() per event.
      if (frame.feed.length > 2 * feedLimit) frame.feed = frame.feed.slice(-feedLimit);
      if (live) {
        frame.occurred.push(event.occurred_at);
        if (frame.occurred.length > 2 * latencyLimit) frame.occurred = frame.occurred.slice(-latencyLimit);
      }
    },
    get empty() {
      return empty;
    },
    take() {
      const taken = frame;
      taken.feed = taken.feed.slice(-feedLimit);
      taken.occurred = taken.occurred.slice(-latencyLimit);
      frame = fresh();
      empty = true;
      return taken;
    },
  };
}

function fresh(): FrameChanges {
  return { truncate: null, rows: new Map(), feed: [], occurred: [] };
}
