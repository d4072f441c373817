// The per-event relay: what the gateways' feed has published goes out once more, one message per
// event, on the exchange integrations bind to. It has its own watermark,
// bridge_state.events_confirmed_through, which follows the feed's (confirmed_through) and never
// passes it, so an integration that slows RabbitMQ down — a durable queue, a slow consumer —
// slows only this relay, never the gateways. Each step reads the next range of positions, publishes
// it (from what the feed just published when that is still kept, recent-events.ts, else from the
// log), waits for RabbitMQ's confirms and only then moves the watermark: a bridge killed at any
// instant loses nothing, and its successor republishes from the watermark (repeats are allowed,
// consumers drop them by position).

import type pg from 'pg';
import { readRawRange } from '../db/event-log.js';
import type { Publisher } from './publisher.js';
import type { RecentEvents } from './recent-events.js';

/** Positions per step: a read of ~10 ms and ~1,000 messages, then their confirms. */
export const EVENT_RELAY_STEP = 1_000;

const STATE_SQL = `
  SELECT events_confirmed_through AS done, confirmed_through AS feed FROM bridge_state WHERE id = 1`;
const MARK_SQL = `
  UPDATE bridge_state SET events_confirmed_through = greatest(events_confirmed_through, $1) WHERE id = 1`;

type Queryable = Pick<pg.Pool, 'query'>;

export interface EventRelayDrain {
  /** Events published and confirmed by this drain. */
  published: number;
  /** Positions the feed has published that the exchange has not yet (at the last step). */
  behind: number;
}

export interface EventRelay {
  /**
   * Publishes steps until the exchange has caught up with the feed; throws on the first failure.
   * `beforeStep` may hold each step back (the bridge lets the feed go first while it has a
   * backlog).
   */
  drain(db: Queryable, signal: AbortSignal, beforeStep?: () => Promise<void>): Promise<EventRelayDrain>;
}

export function createEventRelay({
  publisher,
  step = EVENT_RELAY_STEP,
  recent,
  onPublished,
}: {
  publisher: Publisher;
  step?: number;
  /** What the feed has just published: a step it holds is not read from the log again. */
  recent?: RecentEvents;
  onPublished?(events: number): void;
}): EventRelay {
  return {
    async drain(db, signal, beforeStep) {
      let published = 0;
      for (;;) {
        await beforeStep?.();
        const { rows } = await db.query<{ done: string; feed: string }>(STATE_SQL);
        const done = Number(rows[0]?.done ?? 0);
        const feed = Number(rows[0]?.feed ?? 0);
        if (feed <= done || signal.aborted) return { published, behind: Math.max(0, feed - done) };
        const kept = recent?.take(done + 1, feed, step);
        const to = kept ? kept.at(-1)!.position : Math.min(feed, done + step);
        // Positions missing from the log (a reset log) have nothing to publish and are passed.
        const events = kept ?? (await readRawRange(db, done + 1, to));
        if (events.length > 0) await publisher.publish(events);
        await db.query(MARK_SQL, [to]);
        recent?.dropThrough(to);
        published += events.length;
        onPublished?.(events.length);
      }
    },
  };
}
