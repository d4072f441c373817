// The bridge role: leader election, doorbell, relay, per-event relay and retention put together.
// Only the leader works; a standby waits on the lock. Background work never throws: it logs,
// counts a metric, backs off and retries.

import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { BridgeConfig } from '../config.js';
import { backlog } from '../db/event-log.js';
import { toError } from '../lib/errors.js';
import type { Service } from '../lib/service.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';
import { createDoorbell } from './doorbell.js';
import { runDrainLoop } from './drain-loop.js';
import { createEventRelay, EVENT_RELAY_STEP, MAX_STEPS_IN_FLIGHT } from './event-relay.js';
import { createFeedFollower } from './feed-follower.js';
import { createFeedLog, enterEpoch } from './feed-log.js';
import { createLeaderLock, type LeaderState, type Leadership } from './leader-lock.js';
import { type BacklogProbe, createBridgeMetrics } from './metrics.js';
import { createPublisher } from './publisher.js';
import { createRecentEvents } from './recent-events.js';
import { createRelay } from './relay.js';
import { deleteExpired } from './retention.js';
import { createWatermarkWriter } from './watermark.js';

/** How often the leader runs retention: often enough that a day's deletes stay small. */
const RETENTION_EVERY_MS = 60_000;
/** A graceful stop waits this long for the batch in flight before abandoning it. */
const STOP_GRACE_MS = 5_000;
/**
 * Events the feed published that are kept for the per-event relay: five of its steps, ~3 MB.
 * Under a steady load it trails the feed by less than one; after a burst it reads from the log
 * (keeping a whole burst took the CPU the feed needed: BENCHMARKS.md).
 */
const RECENT_EVENTS_KEPT = 5 * EVENT_RELAY_STEP;

export interface BridgeOptions {
  databaseUrl: string;
  /** The broker's nodes (RABBITMQ_URL); each link moves to the next when its node goes away. */
  rabbitmqUrls: readonly string[];
  exchange: string;
  config: BridgeConfig;
  /** A small pool for metrics and readiness (the leader's writes use the lock connection). */
  pool: pg.Pool;
  registry: Registry;
  log: Logger;
}

export interface Bridge extends Service {
  readonly state: LeaderState;
  /** Readiness: leadership is known, and the leader can reach RabbitMQ. */
  ready(): Promise<void>;
  /** The broker node (`host:port`) each AMQP link is on, null when not connected (/readyz). */
  brokers(): { 'bridge-feed': string | null; 'bridge-events': string | null };
}

export function createBridge(options: BridgeOptions): Bridge {
  const { config, log, pool } = options;
  const metrics = createBridgeMetrics(options.registry, backlogProbe(pool));
  const publisher = createPublisher({
    urls: options.rabbitmqUrls,
    exchange: options.exchange,
    kind: 'feed',
    log: log.child({ part: 'publisher' }),
    onReconnect: () => metrics.reconnects.inc({ link: 'amqp' }),
  });
  const eventPublisher = createPublisher({
    urls: options.rabbitmqUrls,
    exchange: options.exchange,
    kind: 'events',
    log: log.child({ part: 'event-publisher' }),
    onReconnect: () => metrics.reconnects.inc({ link: 'amqp-events' }),
  });
  /** Rings the leader's drain loop (a publish failed: the next drain throws and starts over). */
  let ringLoop: () => void = () => {};
  const watermarks = createWatermarkWriter(pool, (e: unknown) => {
    metrics.failures.inc({ stage: 'watermark' });
    log.warn({ err: toError(e) }, 'cannot write the watermarks; retrying with the next');
  });
  const follower = createFeedFollower({
    relay: {
      drain: (...args) => eventRelay.drain(...args),
      forget: () => eventRelay.forget(),
    },
    db: pool,
    publisher: eventPublisher,
    recent: createRecentEvents(RECENT_EVENTS_KEPT),
    pollIntervalMs: config.pollIntervalMs,
    ratePerSecondWhileBusy: config.eventsRateWhileBusy,
    log,
    onBehind: (n) => metrics.eventsBehind.set(n),
    onFailure: () => metrics.failures.inc({ stage: 'events' }),
  });
  const relay = createRelay({
    publisher,
    watermark: watermarks.of('confirmed_through'),
    batchSize: config.batchSize,
    lingerMs: config.lingerMs,
    onPublished(events, seconds) {
      metrics.published.inc(events.length);
      metrics.publishSeconds.observe(seconds);
      follower.published(events);
    },
    onNumbered(events, numberedAt) {
      for (const event of events)
        metrics.captureToNumbered.observe(Math.max(0, numberedAt / 1000 - event.occurredAt));
    },
    onHanded: (seconds) => metrics.numberedToHanded.observe(seconds),
    onDrained: (backlogged) => follower.drained(backlogged),
    onFailure: () => ringLoop(),
  });
  const eventRelay = createEventRelay({
    publisher: eventPublisher,
    recent: follower.recent,
    stepsInFlight: () => (follower.feedIdle ? MAX_STEPS_IN_FLIGHT : 1),
    feedThrough: () => relay.confirmedThrough,
    watermark: watermarks.of('events_confirmed_through'),
    onPublished: (n) => metrics.eventsPublished.inc(n),
    onStep: (n) => follower.stepped(n),
  });

  async function lead({ client, signal }: Leadership): Promise<void> {
    // Before anything is numbered: a promoted standby's log may end below positions published
    // before, and what this process remembers of them (watermarks, events kept for the per-event
    // relay) belongs to the old history.
    const epoch = await enterEpoch(client);
    log.info({ epoch }, 'numbering under epoch');
    watermarks.reset();
    follower.recent.clear();
    relay.recover();
    const feedLog = createFeedLog(client);
    // A new leader catches up on the feed first; its first drain says whether a backlog is left.
    follower.drained(true);
    // Every query the leader runs wants an index (unnumbered events by txid, batches by position).
    // After a burst the statistics lag, and the planner picked bitmap scans and sorts it should
    // not: under the per-row numbering before migration 0007, numbering 500 events took 25 ms
    // instead of 0.3 ms (EXPLAIN ANALYZE, 20k backlog). This session is the leader's own, so the
    // setting touches nothing else. JIT is off in every orders-live session (pool.ts); this one
    // is not from the pool.
    await client.query('SET enable_bitmapscan = off; SET enable_seqscan = off; SET jit = off');
    let nextRetention = 0;
    const loop = runDrainLoop({
      client,
      signal,
      log,
      async drain() {
        await publisher.open();
        const handed = await relay.drain(feedLog, signal);
        if (Date.now() >= nextRetention) {
          nextRetention = Date.now() + RETENTION_EVERY_MS;
          await retain(client, signal);
        }
        return { handed, more: follower.feedBacklogged };
      },
      leaseAbovePerSecond: config.leaseAbovePerSecond,
      onFailure: () => metrics.failures.inc({ stage: 'relay' }),
      onModeChange: (mode) => metrics.active.set(mode === 'active' ? 1 : 0),
    });
    const doorbell = createDoorbell({
      databaseUrl: options.databaseUrl,
      pollIntervalMs: config.pollIntervalMs,
      log: log.child({ part: 'doorbell' }),
      ring: (reason) => loop.ring(reason),
      onReconnect: () => metrics.reconnects.inc({ link: 'listen' }),
    });
    ringLoop = () => loop.ring('poll');
    await doorbell.start();
    const events = follower.run(signal);
    try {
      await loop.done;
    } finally {
      ringLoop = () => {};
      await doorbell.stop();
      await events;
      // What is confirmed now is written now: a successor republishes only what was not.
      await relay.settle(STOP_GRACE_MS).catch(() => undefined);
      await watermarks
        .flush()
        .catch((e: unknown) => log.warn({ err: toError(e) }, 'cannot write the watermarks'));
      metrics.active.set(0);
    }
  }

  async function retain(client: pg.Client, signal: AbortSignal): Promise<void> {
    const deleted = await deleteExpired(client, new Date(Date.now() - config.retentionMs), signal);
    if (deleted > 0) {
      metrics.retained.inc(deleted);
      log.info({ deleted }, 'retention deleted published events');
    }
  }

  const lock = createLeaderLock({
    databaseUrl: options.databaseUrl,
    retryMs: config.leaderRetryMs,
    log: log.child({ part: 'leader-lock' }),
    lead,
    onStateChange: (state) => metrics.isLeader.set(state === 'leader' ? 1 : 0),
    onReconnect: () => metrics.reconnects.inc({ link: 'lock' }),
  });

  return {
    name: 'bridge',
    get state() {
      return lock.state;
    },
    async start() {
      metrics.isLeader.set(0);
      await lock.start();
    },
    async stop() {
      // The lock stops first: the relay sees the abort between steps; a batch abandoned mid-way
      // is numbered but unconfirmed, and the next leader republishes it under the same positions.
      const grace = new AbortController();
      await Promise.race([lock.stop(), delay(STOP_GRACE_MS, grace.signal)]);
      grace.abort();
      await publisher.close();
      await eventPublisher.close();
      await lock.stop();
    },
    async ready() {
      if (lock.state === 'unknown') throw new Error('leadership not known yet');
      if (lock.state === 'leader' && !publisher.connected) throw new Error('leader has no RabbitMQ channel');
    },
    brokers: () => ({ 'bridge-feed': publisher.node, 'bridge-events': eventPublisher.node }),
  };
}

/** The estimate: a scrape costs a few index reads whatever the backlog. */
function backlogProbe(pool: pg.Pool): BacklogProbe {
  return { backlog: () => backlog(pool, { estimate: true }) };
}
