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
 * relay's steps overlap. Overlapping them always doubled the dashboards' lag under a sustained
 * load (bench throughput at 15,000/s: lag p99 642–742 ms against 262–461 ms).
 */
export const FEED_IDLE_MS = 100;

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
  onBehind?(positions: number): void;
  onFailure?(): void;
}

export interface FeedFollower {
  /** The feed published these events (confirmed, in position order). */
  published(events: readonly RawEvent[]): void;
  /** The feed's last drain left a backlog, or did not. */
  drained(backlogged: boolean): void;
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

  /** Resolves once the feed has no backlog, after EVENTS_DEFER_MAX_MS at most, or on abort. */
  async function feedFirst(signal: AbortSignal): Promise<void> {
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

  return {
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
      return performance.now() - publishedAt >= FEED_IDLE_MS;
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
