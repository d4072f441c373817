// The leader's loops run as long as it leads, on one long-lived signal: the drain loop, and the
// per-event relay's loop that follows the feed. Thousands of passes must leave nothing on that
// signal — no listener, and no AbortSignal.any() over it (on Node 20 each call leaves an entry on
// the long-lived signal until it is collected: nodejs/node#55351) — and the per-event loop must do
// what it is for: drain after the feed published, wait for the feed's backlog, retry a failure.

import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runDrainLoop } from '../../src/bridge/drain-loop.js';
import { createFeedFollower, FEED_IDLE_MS } from '../../src/bridge/feed-follower.js';
import { createRecentEvents } from '../../src/bridge/recent-events.js';
import { delay, waitFor } from '../../src/lib/wait.js';
import { createLogger } from '../../src/log.js';
import { rawEvent } from '../helpers/events.js';

const log = createLogger('silent');
const raw = rawEvent;

type FakeDrain = Parameters<typeof createFeedFollower>[0]['relay']['drain'];

/** A feed follower over a fake relay that drains with `drain`, and fake database and publisher. */
function followerOver(
  drain: FakeDrain,
  options: Pick<
    Parameters<typeof createFeedFollower>[0],
    'pollIntervalMs' | 'drainEveryMs' | 'ratePerSecondWhileBusy'
  > & { publisher?: Parameters<typeof createFeedFollower>[0]['publisher'] },
) {
  return createFeedFollower({
    relay: { drain, forget: () => undefined },
    db: { query: async () => ({ rows: [] }) } as never,
    publisher: { open: async () => undefined, reopen: async () => undefined },
    recent: createRecentEvents(100),
    log,
    ...options,
  });
}

/** Counts AbortSignal.any() calls that are given `signal`. */
function spyOnAny(signal: AbortSignal): () => number {
  let calls = 0;
  const original = AbortSignal.any.bind(AbortSignal);
  vi.spyOn(AbortSignal, 'any').mockImplementation((signals: AbortSignal[]) => {
    if (signals.includes(signal)) calls++;
    return original(signals);
  });
  return () => calls;
}

/**
 * A leadership whose signal is watched: the AbortSignal.any() calls given it, and the most abort
 * listeners seen at once on the signals a loop waits on (`see` records one).
 */
function watchedLeadership() {
  const leadership = new AbortController();
  const anyCalls = spyOnAny(leadership.signal);
  let most = 0;
  return {
    leadership,
    anyCalls,
    see(signal: AbortSignal) {
      most = Math.max(most, getEventListeners(signal, 'abort').length);
    },
    listenersSeen: () => most,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('delay', () => {
  it('leaves no listener on any of its signals, whether the time ran out or one aborted', async () => {
    const long = new AbortController();
    const other = new AbortController();
    await delay(1, [long.signal, other.signal]);
    const pending = delay(60_000, [long.signal, other.signal]);
    other.abort();
    await pending;
    expect(getEventListeners(long.signal, 'abort')).toHaveLength(0);
  });
});

describe('the per-event relay following the feed (feed-follower.ts)', () => {
  it('drains once per batch of kicks, over thousands of passes, leaving nothing on the signal', async () => {
    const { leadership, anyCalls, see, listenersSeen } = watchedLeadership();
    let drains = 0;
    const follower = followerOver(
      async (_db, signal, beforeStep) => {
        drains++;
        await beforeStep?.();
        see(signal);
        return { published: 1, behind: 0 };
      },
      { pollIntervalMs: 60_000, drainEveryMs: 0, ratePerSecondWhileBusy: 0 },
    );
    follower.drained(false);
    const running = follower.run(leadership.signal);
    for (let p = 1; p <= 3_000; p++) {
      follower.published([raw(p)]);
      await delay(0);
    }
    await waitFor(() => drains >= 1_000, { what: 'a thousand drains' });
    leadership.abort();
    await running;
    expect(anyCalls()).toBe(0);
    // While it ran, at most the waits of one pass were listening; once stopped, none.
    expect(listenersSeen()).toBeLessThanOrEqual(2);
    expect(getEventListeners(leadership.signal, 'abort')).toHaveLength(0);
  });

  it('lets the feed go first while it has a backlog, and goes on when it clears', async () => {
    const leadership = new AbortController();
    const steps: number[] = [];
    const follower = followerOver(
      async (_db, _signal, beforeStep) => {
        await beforeStep?.();
        steps.push(performance.now());
        return { published: 1, behind: 0 };
      },
      { pollIntervalMs: 60_000, ratePerSecondWhileBusy: 0 },
    );
    follower.drained(true);
    const running = follower.run(leadership.signal);
    follower.published([raw(1)]);
    await delay(50);
    expect(steps).toHaveLength(0); // held back behind the feed's backlog
    const clearedAt = performance.now();
    follower.drained(false);
    await waitFor(() => steps.length >= 1, { what: 'the step once the backlog cleared' });
    // At once, not after EVENTS_DEFER_MAX_MS.
    expect(steps[0]! - clearedAt).toBeLessThan(1_000);
    leadership.abort();
    await running;
  });

  it('takes steps at the busy rate while the feed publishes, and at full speed once it is idle', async () => {
    const leadership = new AbortController();
    const steps: number[] = [];
    let follower: ReturnType<typeof createFeedFollower>;
    follower = followerOver(
      // Each drain is one step of 100 events, held back by beforeStep like the real relay's.
      async (_db, _signal, beforeStep) => {
        await beforeStep?.();
        steps.push(performance.now());
        follower.stepped(100);
        return { published: 100, behind: 0 };
      },
      { pollIntervalMs: 5, drainEveryMs: 0, ratePerSecondWhileBusy: 1_000 },
    );
    follower.drained(false);
    const running = follower.run(leadership.signal);
    // The feed publishes every 10 ms for 600 ms: 100 events per step at 1,000/s is a step per 100 ms.
    const busyUntil = performance.now() + 600;
    for (let p = 1; performance.now() < busyUntil; p++) {
      follower.published([raw(p)]);
      await delay(10);
    }
    const busySteps = steps.length;
    expect(busySteps).toBeGreaterThanOrEqual(3);
    expect(busySteps).toBeLessThanOrEqual(9);
    // Idle (nothing published for FEED_IDLE_MS): the slow poll's drains each take a step at once.
    await delay(FEED_IDLE_MS + 50);
    const idleFrom = steps.length;
    await delay(100);
    leadership.abort();
    await running;
    expect(steps.length - idleFrom).toBeGreaterThanOrEqual(5);
  });

  it('after a failure reopens the publisher before draining again', async () => {
    const leadership = new AbortController();
    const calls: string[] = [];
    let fail = true;
    const follower = followerOver(
      async () => {
        calls.push('drain');
        if (fail) {
          fail = false;
          throw new Error('confirm lost');
        }
        return { published: 0, behind: 0 };
      },
      {
        pollIntervalMs: 60_000,
        ratePerSecondWhileBusy: 0,
        publisher: {
          open: async () => void calls.push('open'),
          reopen: async () => void calls.push('reopen'),
        },
      },
    );
    follower.drained(false);
    const running = follower.run(leadership.signal);
    await waitFor(() => calls.length >= 4, { what: 'a retry after the failure' });
    leadership.abort();
    await running;
    expect(calls.slice(0, 4)).toEqual(['open', 'drain', 'reopen', 'drain']);
  });
});

describe('the drain loop (drain-loop.ts)', () => {
  it('runs thousands of drains, leased and ringing, leaving nothing on the signal', async () => {
    const { leadership, anyCalls, see, listenersSeen } = watchedLeadership();
    let drains = 0;
    const loop = runDrainLoop({
      client: { query: async () => ({ rows: [] }) } as never,
      signal: leadership.signal,
      // Bursts of work (leased, polling) and quiet spells (ringing, woken by the bell below).
      async drain() {
        drains++;
        see(leadership.signal);
        return { handed: drains % 400 < 200 ? 5 : 0, more: false };
      },
      leaseAbovePerSecond: 1_000,
      log,
      onFailure: () => undefined,
    });
    while (drains < 3_000) {
      loop.ring('notification');
      await delay(0);
    }
    leadership.abort();
    await loop.done;
    expect(anyCalls()).toBe(0);
    expect(listenersSeen()).toBeLessThanOrEqual(3);
  });
});
