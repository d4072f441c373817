// Resume, as a pure state machine: a client that connects with `since: P` gets every event after
// P, then goes live, with no gap and no repeat. Pure: the driver (socket-server.ts) asks `next`
// what to do, performs it — send, read the log, wait, join the live room — and reports reads back.
//
// The cursor is the last position the client has been sent. Pages come from the replay ring when
// it reaches back far enough, else from the change log; a log page must continue the cursor
// exactly, or the client's position is older than retention and it is told to resync. Once the
// cursor equals the live head, the driver joins the client to its room in the same tick: every
// later broadcast is past the cursor.

import type { OrderEvent } from '../contract/events.js';

/** Most events read from the log per query during replay. */
export const REPLAY_READ_PAGE = 1_000;

export type ResyncReason = 'position older than retention';

export type ResumeAction =
  /** The client is ahead of this gateway: wait for the head to reach it, or tell it to resync. */
  | { type: 'ahead'; since: number }
  /** Send these events (the cursor has moved past them). */
  | { type: 'send'; events: OrderEvent[] }
  /** Read [from, to] from the log and pass the result to `readDone`. */
  | { type: 'read'; from: number; to: number }
  /** Caught up: join the live room and say `ready` at `position`, without yielding first. */
  | { type: 'live'; position: number }
  | { type: 'resync'; reason: ResyncReason };

/** What the resume sees of the live stream. */
export interface LiveView {
  /** The last position broadcast to live clients. */
  readonly head: number;
  /** At most `limit` events in (after, head] from memory, or null when memory does not reach back. */
  recent(after: number, limit: number): OrderEvent[] | null;
}

export interface Resume {
  /** The last position this client has been sent. */
  readonly cursor: number;
  next(view: LiveView): ResumeAction;
  /** The read asked for by `next` returned these events, ascending. */
  readDone(events: readonly OrderEvent[]): ResumeAction;
}

export function createResume(since: number, pageSize = REPLAY_READ_PAGE): Resume {
  let cursor = since;
  let reading: { from: number; to: number } | null = null;

  function send(events: OrderEvent[]): ResumeAction {
    cursor = events.at(-1)!.position;
    return { type: 'send', events };
  }

  return {
    get cursor() {
      return cursor;
    },
    next(view) {
      if (reading) throw new Error('next() while a read is in flight');
      if (cursor > view.head) return { type: 'ahead', since: cursor };
      if (cursor === view.head) return { type: 'live', position: cursor };
      const memory = view.recent(cursor, pageSize);
      if (memory && memory.length > 0) return send(memory);
      reading = { from: cursor + 1, to: Math.min(cursor + pageSize, view.head) };
      return { type: 'read', ...reading };
    },
    readDone(events) {
      if (!reading) throw new Error('readDone() without a read in flight');
      const { to } = reading;
      reading = null;
      // Only the part that continues the cursor exactly; a hole ends the page (the next read
      // starts at the hole and, finding it again, resyncs).
      const page: OrderEvent[] = [];
      for (const event of events) {
        if (event.position !== cursor + page.length + 1 || event.position > to) break;
        page.push(event);
      }
      if (page.length === 0) return { type: 'resync', reason: 'position older than retention' };
      return send(page);
    },
  };
}
