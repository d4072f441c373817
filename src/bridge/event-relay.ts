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

export interface EventRelayOptions {
  publisher: Publisher;
  /** @default EVENT_RELAY_STEP */
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
}

export function createEventRelay(options: EventRelayOptions): EventRelay {
  return new PerEventRelay(options);
}

class PerEventRelay implements EventRelay {
  readonly step: number;
  readonly stepsInFlight: () => number;
  /** This relay's cursor as it knows it, kept across drains; null: read it from the database. */
  known: number | null = null;

  constructor(readonly options: EventRelayOptions) {
    this.step = options.step ?? EVENT_RELAY_STEP;
    this.stepsInFlight = options.stepsInFlight ?? (() => 1);
  }

  forget(): void {
    this.known = null;
  }

  drain(db: Queryable, signal: AbortSignal, beforeStep?: () => Promise<void>): Promise<EventRelayDrain> {
    return new Drain(this, db, signal, beforeStep).run();
  }
}

/** A step handed over, settling once RabbitMQ confirmed it. */
interface Step {
  to: number;
  events: number;
  confirmed: Promise<void>;
}

/** One drain: steps from the relay's cursor until the exchange caught up with the feed. */
class Drain {
  private published = 0;
  /** The watermark as this drain moved it. */
  private done = 0;
  private feed = 0;
  /** The last position handed to the publisher; `done` trails it while confirms are out. */
  private cursor = 0;
  /** Whether `feed` was read after the last step was handed over (no need to read it again). */
  private fresh = true;
  /** Steps handed over, in position order. */
  private readonly inFlight: Step[] = [];

  constructor(
    private readonly relay: PerEventRelay,
    private readonly db: Queryable,
    private readonly signal: AbortSignal,
    private readonly beforeStep: (() => Promise<void>) | undefined,
  ) {}

  async run(): Promise<EventRelayDrain> {
    const { known } = this.relay;
    const { feedThrough } = this.relay.options;
    ({ done: this.done, feed: this.feed } =
      known !== null && feedThrough ? { done: known, feed: feedThrough() } : await this.state());
    this.cursor = this.done;
    try {
      for (;;) {
        if (this.cursor >= this.feed && this.inFlight.length === 0 && !this.fresh) await this.refresh();
        if (this.cursor >= this.feed || this.signal.aborted) {
          if (this.inFlight.length === 0) {
            return { published: this.published, behind: Math.max(0, this.feed - this.done) };
          }
          await this.settleOldest();
          continue;
        }
        await this.takeStep();
      }
    } finally {
      this.inFlight.length = 0;
    }
  }

  /** The watermark (never below what this process knows) and the feed's, from the database. */
  private async state(): Promise<{ done: number; feed: number }> {
    const { rows } = await this.db.query<{ done: string; feed: string }>(STATE_SQL);
    const stored = Number(rows[0]?.done ?? 0);
    const { feedThrough } = this.relay.options;
    return {
      done: Math.max(stored, this.relay.known ?? stored),
      feed: feedThrough ? feedThrough() : Number(rows[0]?.feed ?? 0),
    };
  }

  /** Caught up with the feed as last read: read how far it is now. */
  private async refresh(): Promise<void> {
    const { feedThrough } = this.relay.options;
    ({ done: this.done, feed: this.feed } = feedThrough
      ? { done: this.done, feed: feedThrough() }
      : await this.state());
    this.fresh = true;
  }

  /** Hands the next range of positions over, then waits while too many steps are in flight. */
  private async takeStep(): Promise<void> {
    const { publisher, recent, onStep } = this.relay.options;
    await this.beforeStep?.();
    const kept = recent?.take(this.cursor + 1, this.feed, this.relay.step);
    const to = kept ? kept.at(-1)!.position : Math.min(this.feed, this.cursor + this.relay.step);
    // Positions missing from the log (a reset log) have nothing to publish and are passed.
    const events = kept ?? (await readRawRange(this.db, this.cursor + 1, to));
    const confirmed = events.length > 0 ? publisher.publish(events) : Promise.resolve();
    onStep?.(events.length);
    // Awaited in order by settleOldest; a rejection seen first elsewhere is not unhandled.
    confirmed.catch(() => undefined);
    this.inFlight.push({ to, events: events.length, confirmed });
    this.cursor = to;
    this.fresh = false;
    while (this.inFlight.length >= Math.max(1, this.relay.stepsInFlight())) await this.settleOldest();
  }

  /** Waits for the oldest step's confirms, then moves the watermark over it. */
  private async settleOldest(): Promise<void> {
    const { watermark, recent, onPublished } = this.relay.options;
    const oldest = this.inFlight.shift()!;
    await oldest.confirmed;
    if (watermark) watermark.raise(oldest.to);
    else await raiseWatermark(this.db, 'events_confirmed_through', oldest.to);
    this.done = oldest.to;
    this.relay.known = this.done;
    recent?.dropThrough(this.done);
    this.published += oldest.events;
    onPublished?.(oldest.events);
  }
}
