// The per-event relay: what the gateways' feed has published goes out once more, one message per
// event, on the exchange integrations bind to. It has its own watermark,
// bridge_state.events_confirmed_through, which follows the feed's (confirmed_through) and never
// passes it, so an integration that slows RabbitMQ down — a durable queue, a slow consumer —
// slows only this relay, never the gateways. Each step takes the next range of positions (from what
// the feed just published when that is still kept, recent-events.ts, else from the log) and
// publishes it. While the feed is idle the next steps go ahead while its confirms are out (up to
// three steps at once); while the feed publishes, one step at a time, so the per-event messages
// never take the CPU the gateways' path needs. The watermark moves over a step only once RabbitMQ
// confirmed it and every step before it: a bridge killed at any instant loses nothing, and its
// successor republishes from the watermark (repeats are allowed, consumers drop them by position).

import type pg from 'pg';
import { readRawRange } from '../db/event-log.js';
import type { Publisher } from './publisher.js';
import type { RecentEvents } from './recent-events.js';
import { raiseWatermark, type WatermarkRaiser } from './watermark.js';

/** Positions per step: a read of ~10 ms and ~1,000 messages, then their confirms. */
export const EVENT_RELAY_STEP = 1_000;
/** Steps whose confirms may be out at once while the feed is idle (see `stepsInFlight`). */
export const MAX_STEPS_IN_FLIGHT = 3;

const STATE_SQL = `
  SELECT events_confirmed_through AS done, confirmed_through AS feed FROM bridge_state WHERE id = 1`;

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
  /** The next drain reads its cursor from the database again (after a takeover). */
  forget(): void;
}

export function createEventRelay({
  publisher,
  step = EVENT_RELAY_STEP,
  recent,
  stepsInFlight = () => 1,
  feedThrough,
  watermark,
  onPublished,
  onStep,
}: {
  publisher: Publisher;
  step?: number;
  /** What the feed has just published: a step it holds is not read from the log again. */
  recent?: RecentEvents;
  /**
   * How many steps may wait for their confirms at once, asked before each step (1: each step is
   * confirmed before the next is taken).
   */
  stepsInFlight?(): number;
  /**
   * The feed's confirmed watermark as the feed relay knows it (its database copy may lag); absent,
   * it is read from the database.
   */
  feedThrough?(): number;
  /** Writes this relay's watermark off its path; absent, each step's raise is awaited. */
  watermark?: WatermarkRaiser;
  onPublished?(events: number): void;
  /** A step of this many events was handed to the publisher. */
  onStep?(events: number): void;
}): EventRelay {
  /** This relay's cursor as it knows it, kept across drains; null: read it from the database. */
  let known: number | null = null;
  return {
    forget() {
      known = null;
    },
    async drain(db, signal, beforeStep) {
      let published = 0;
      const state = async () => {
        const { rows } = await db.query<{ done: string; feed: string }>(STATE_SQL);
        const stored = Number(rows[0]?.done ?? 0);
        return {
          done: Math.max(stored, known ?? stored),
          feed: feedThrough ? feedThrough() : Number(rows[0]?.feed ?? 0),
        };
      };
      let { done, feed } =
        known !== null && feedThrough ? { done: known, feed: feedThrough() } : await state();
      /** The last position handed to the publisher; `done` trails it while confirms are out. */
      let cursor = done;
      /** Whether `feed` was read after the last step was handed over (no need to read it again). */
      let fresh = true;
      /** Steps handed over, in position order, each settling once RabbitMQ confirmed it. */
      const inFlight: { to: number; events: number; confirmed: Promise<void> }[] = [];

      /** Waits for the oldest step's confirms, then moves the watermark over it. */
      async function settleOldest(): Promise<void> {
        const oldest = inFlight.shift()!;
        await oldest.confirmed;
        if (watermark) watermark.raise(oldest.to);
        else await raiseWatermark(db, 'events_confirmed_through', oldest.to);
        done = oldest.to;
        known = done;
        recent?.dropThrough(done);
        published += oldest.events;
        onPublished?.(oldest.events);
      }

      try {
        for (;;) {
          if (cursor >= feed && inFlight.length === 0 && !fresh) {
            ({ done, feed } = feedThrough ? { done, feed: feedThrough() } : await state());
            fresh = true;
          }
          if (cursor >= feed || signal.aborted) {
            if (inFlight.length === 0) return { published, behind: Math.max(0, feed - done) };
            await settleOldest();
            continue;
          }
          await beforeStep?.();
          const kept = recent?.take(cursor + 1, feed, step);
          const to = kept ? kept.at(-1)!.position : Math.min(feed, cursor + step);
          // Positions missing from the log (a reset log) have nothing to publish and are passed.
          const events = kept ?? (await readRawRange(db, cursor + 1, to));
          const confirmed = events.length > 0 ? publisher.publish(events) : Promise.resolve();
          onStep?.(events.length);
          // Awaited in order by settleOldest; a rejection seen first elsewhere is not unhandled.
          confirmed.catch(() => undefined);
          inFlight.push({ to, events: events.length, confirmed });
          cursor = to;
          fresh = false;
          while (inFlight.length >= Math.max(1, stepsInFlight())) await settleOldest();
        }
      } finally {
        inFlight.length = 0;
      }
    },
  };
}
