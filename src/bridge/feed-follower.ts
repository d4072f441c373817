// How the per-event relay follows the gateways' feed on the leader: the feed tells it what it
// published (kept in memory for it) and whether its last drain left a backlog; the follower's loop
// drains the per-event relay whenever the feed published (at most every EVENTS_DRAIN_EVERY_MS) and
// on the slow poll, lets the feed go first while it has a backlog, and backs off and retries on a
// failure without ever holding the feed up. Its waits leave nothing on the leadership's signal.

import type { RawEvent } from '../db/event-log.js';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';
import type { EventRelay } from './event-relay.js';
import type { Publisher } from './publisher.js';
import type { RecentEvents } from './recent-events.js';

/**
 * The per-event relay starts a drain at most this often: under a moderate load the feed publishes
 * a batch every millisecond or two, and each woke it for a drain and a round of confirms for a
 * handful of events. An integration's messages wait this long at most for the next drain; a
 * drain that finds a backlog goes on without waiting.
 */
export const EVENTS_DRAIN_EVERY_MS = 10;
/**
 * While the feed has a backlog the per-event relay waits for it, but never longer than this per
 * step: the gateways go first, integrations still move.
 */
export const EVENTS_DEFER_MAX_MS = 5_000;
/**
 * The feed is idle once it has published nothing for this long; only then do the per-event
 * relay's steps overlap (overlapping under load doubled the dashboards' lag p99: BENCHMARKS.md).
 * Half a second: a sustained load pauses ~100 ms, and a full-speed burst in such a pause left the
 * feed 0.3–1 s behind (at 10,000/s).
 */
export const FEED_IDLE_MS = 500;
/** How often a throttled per-event relay looks again whether the feed went idle. */
const BUSY_CHECK_MS = 50;

export interface FeedFollowerOptions {
  /** The per-event relay (event-relay.ts) and the database it reads and writes through. */
  relay: Pick<EventRelay, 'drain' | 'forget'>;
  db: Parameters<EventRelay['drain']>[0];
  /** The per-event publisher: reopened after a failure, so the drain restarts at its cursor. */
  publisher: Pick<Publisher, 'open' | 'reopen'>;
  /** Where the feed's published events are kept for the relay. */
  recent: RecentEvents;
  /** The slow poll: the longest the relay sleeps without being kicked. */
  pollIntervalMs: number;
  log: Logger;
  /** @default EVENTS_DRAIN_EVERY_MS */
  drainEveryMs?: number;
  /**
   * Events a second the per-event relay takes while the feed publishes; once the feed is idle it
   * catches up at full speed. 0: no limit. Each per-event message costs the broker and this process
   * about what a whole feed batch does: unbounded, at a sustained 10,000 events/s it took the CPU
   * the dashboards needed (capture → numbered 0.1–1.7 s at p50 against ~10 ms; BENCHMARKS.md).
   */
  ratePerSecondWhileBusy: number;
  onBehind?(positions: number): void;
  onFailure?(): void;
}

export interface FeedFollower {
  /** The feed published these events (confirmed, in position order). */
  published(events: readonly RawEvent[]): void;
  /** The feed's last drain left a backlog, or did not. */
  drained(backlogged: boolean): void;
  /** The per-event relay handed a step of this many events to its publisher. */
  stepped(events: number): void;
  /** Whether the feed has published nothing for FEED_IDLE_MS. */
  readonly feedIdle: boolean;
  /** Whether the feed's last drain left a backlog. */
  readonly feedBacklogged: boolean;
  /** The feed's published events kept for the per-event relay. */
  readonly recent: RecentEvents;
  /** While this bridge leads: the per-event relay's loop, until the signal aborts. */
  run(signal: AbortSignal): Promise<void>;
}

export function createFeedFollower(options: FeedFollowerOptions): FeedFollower {
  return new Follower(options);
}

class Follower implements FeedFollower {
  readonly recent: RecentEvents;
  private readonly drainEveryMs: number;
  private publishedAt = Number.NEGATIVE_INFINITY;
  private backlogged = false;
  private kicked = true;
  /** Ends the loop's current wait (a kick while it sleeps, the feed clearing its backlog). */
  private wake: (() => void) | undefined;
  private cleared: (() => void) | undefined;
  /** performance.now() until which the steps taken while the feed was busy are paid for. */
  private paidUntil = 0;

  constructor(private readonly options: FeedFollowerOptions) {
    this.recent = options.recent;
    this.drainEveryMs = options.drainEveryMs ?? EVENTS_DRAIN_EVERY_MS;
  }

  stepped(events: number): void {
    // Only steps taken while the feed is busy are owed for: no debt carries into a busy spell.
    const now = performance.now();
    const rate = this.options.ratePerSecondWhileBusy;
    this.paidUntil =
      rate > 0 && !this.feedIdle ? Math.max(this.paidUntil, now) + (events * 1000) / rate : now;
  }

  published(events: readonly RawEvent[]): void {
    this.publishedAt = performance.now();
    this.recent.add(events);
    this.kicked = true;
    this.wake?.();
  }

  drained(isBacklogged: boolean): void {
    this.backlogged = isBacklogged;
    if (!isBacklogged) this.cleared?.();
  }

  get feedIdle(): boolean {
    return performance.now() - this.publishedAt >= FEED_IDLE_MS;
  }

  get feedBacklogged(): boolean {
    return this.backlogged;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.kicked = true;
    this.options.relay.forget();
    let drainedAt = Number.NEGATIVE_INFINITY;
    try {
      for (let attempt = 0; !signal.aborted; ) {
        await this.waitForKick(signal, drainedAt);
        if (signal.aborted) break;
        drainedAt = performance.now();
        this.kicked = false;
        const next = await this.attempt(signal, attempt);
        if (next === null) break;
        attempt = next;
      }
    } finally {
      this.wake = undefined;
    }
  }

  /** Until a kick or the slow poll, and at least `drainEveryMs` after the last drain began. */
  private async waitForKick(signal: AbortSignal, drainedAt: number): Promise<void> {
    if (!this.kicked) await sleep(this.options.pollIntervalMs, signal, (end) => (this.wake = end));
    this.wake = undefined;
    const since = performance.now() - drainedAt;
    if (since < this.drainEveryMs) await delay(this.drainEveryMs - since, signal);
  }

  /** One drain; the next attempt's number (0 after a success), or null once the signal aborted. */
  private async attempt(signal: AbortSignal, attempt: number): Promise<number | null> {
    try {
      await this.drainOnce(signal, attempt);
      return 0;
    } catch (e) {
      if (signal.aborted) return null;
      this.options.onFailure?.();
      this.options.log.warn({ err: toError(e), attempt }, 'per-event relay failed; retrying');
      await delay(backoffDelayMs(attempt), signal);
      this.kicked = true;
      return attempt + 1;
    }
  }

  private async drainOnce(signal: AbortSignal, attempt: number): Promise<void> {
    const { publisher, relay, db } = this.options;
    await (attempt > 0 ? publisher.reopen() : publisher.open());
    const { behind } = await relay.drain(db, signal, () => this.feedFirst(signal));
    this.options.onBehind?.(behind);
  }

  /**
   * Before each step: once the feed has no backlog (EVENTS_DEFER_MAX_MS at most), and, while it
   * publishes, once the steps taken meanwhile are paid for at the rate allowed while it is busy.
   */
  private async feedFirst(signal: AbortSignal): Promise<void> {
    // In short waits: the feed may go idle meanwhile, and then the relay goes at full speed.
    while (!this.feedIdle && this.paidUntil > performance.now() && !signal.aborted) {
      await delay(Math.min(BUSY_CHECK_MS, this.paidUntil - performance.now()), signal);
    }
    if (!this.backlogged) return;
    try {
      await sleep(EVENTS_DEFER_MAX_MS, signal, (end) => {
        this.cleared = end;
      });
    } finally {
      this.cleared = undefined;
    }
  }
}

/**
 * Resolves after `ms`, on `stop`'s abort, or when `hook` is called. Not an AbortController per
 * wait: its abort() builds a DOMException, a cost paid at every event under a light load.
 */
function sleep(ms: number, stop: AbortSignal, hook: (end: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    if (stop.aborted) return resolve();
    const end = () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', end);
      resolve();
    };
    const timer = setTimeout(end, ms);
    stop.addEventListener('abort', end, { once: true });
    hook(end);
  });
}
