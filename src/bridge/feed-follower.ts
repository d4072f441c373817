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
 * The feed is idle once it has published nothing for this long; only then does the per-event
 * relay go at full speed, its steps overlapping. Overlapping them always doubled the dashboards'
 * lag under a sustained load (bench throughput at 15,000/s: lag p99 642–742 ms against 262–461
 * ms). Half a second: a sustained load has pauses of 100 ms (a full-speed burst of per-event
 * messages in one of them left the feed 0.3–1 s behind, sustained-load runs at 10,000/s).
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
  const { relay, recent, log, drainEveryMs = EVENTS_DRAIN_EVERY_MS } = options;
  let publishedAt = Number.NEGATIVE_INFINITY;
  let backlogged = false;
  let kicked = true;
  /** Ends the loop's current wait (a kick while it sleeps, the feed clearing its backlog). */
  let wake: (() => void) | undefined;
  let cleared: (() => void) | undefined;
  /** performance.now() until which the steps taken while the feed was busy are paid for. */
  let paidUntil = 0;

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

  /**
   * Before each step: once the feed has no backlog (EVENTS_DEFER_MAX_MS at most), and, while it
   * publishes, once the steps taken meanwhile are paid for at the rate allowed while it is busy.
   */
  async function feedFirst(signal: AbortSignal): Promise<void> {
    // In short waits: the feed may go idle meanwhile, and then the relay goes at full speed.
    while (!idle() && paidUntil > performance.now() && !signal.aborted) {
      await delay(Math.min(BUSY_CHECK_MS, paidUntil - performance.now()), signal);
    }
    if (!backlogged) return;
    try {
      await sleep(EVENTS_DEFER_MAX_MS, signal, (end) => {
        cleared = end;
      });
    } finally {
      cleared = undefined;
    }
  }

  async function drainOnce(signal: AbortSignal, attempt: number): Promise<void> {
    await (attempt > 0 ? options.publisher.reopen() : options.publisher.open());
    const { behind } = await relay.drain(options.db, signal, () => feedFirst(signal));
    options.onBehind?.(behind);
  }

  const idle = () => performance.now() - publishedAt >= FEED_IDLE_MS;

  return {
    stepped(events) {
      // Only steps taken while the feed is busy are owed for: no debt carries into a busy spell.
      const now = performance.now();
      const rate = options.ratePerSecondWhileBusy;
      paidUntil = rate > 0 && !idle() ? Math.max(paidUntil, now) + (events * 1000) / rate : now;
    },
    published(events) {
      publishedAt = performance.now();
      recent.add(events);
      kicked = true;
      wake?.();
    },
    drained(isBacklogged) {
      backlogged = isBacklogged;
      if (!isBacklogged) cleared?.();
    },
    get feedIdle() {
      return idle();
    },
    get feedBacklogged() {
      return backlogged;
    },
    recent,
    async run(signal) {
      kicked = true;
      relay.forget();
      let drainedAt = Number.NEGATIVE_INFINITY;
      try {
        for (let attempt = 0; !signal.aborted; ) {
          if (!kicked) await sleep(options.pollIntervalMs, signal, (end) => (wake = end));
          wake = undefined;
          const since = performance.now() - drainedAt;
          if (since < drainEveryMs) await delay(drainEveryMs - since, signal);
          if (signal.aborted) break;
          drainedAt = performance.now();
          kicked = false;
          try {
            await drainOnce(signal, attempt);
            attempt = 0;
          } catch (e) {
            if (signal.aborted) break;
            options.onFailure?.();
            log.warn({ err: toError(e), attempt }, 'per-event relay failed; retrying');
            await delay(backoffDelayMs(attempt++), signal);
            kicked = true;
          }
        }
      } finally {
        wake = undefined;
      }
    },
  };
}
