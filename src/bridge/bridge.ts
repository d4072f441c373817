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
import { createDoorbell, type Doorbell } from './doorbell.js';
import { type DrainLoop, runDrainLoop } from './drain-loop.js';
import { createEventRelay, EVENT_RELAY_STEP, type EventRelay, MAX_STEPS_IN_FLIGHT } from './event-relay.js';
import { createFeedFollower, type FeedFollower } from './feed-follower.js';
import { createFeedLog, enterEpoch, type FeedLog } from './feed-log.js';
import { createLeaderLock, type LeaderLock, type LeaderState, type Leadership } from './leader-lock.js';
import { type BacklogProbe, type BridgeMetrics, createBridgeMetrics } from './metrics.js';
import { createPublisher, type Publisher, type PublisherKind } from './publisher.js';
import { createRecentEvents } from './recent-events.js';
import { createRelay, type Relay } from './relay.js';
import { deleteExpired } from './retention.js';
import { createWatermarkWriter, type WatermarkWriter } from './watermark.js';

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
  return new BridgeImpl(options);
}

class BridgeImpl implements Bridge {
  readonly name = 'bridge';
  private readonly config: BridgeConfig;
  private readonly log: Logger;
  private readonly metrics: BridgeMetrics;
  private readonly publisher: Publisher;
  private readonly eventPublisher: Publisher;
  private readonly watermarks: WatermarkWriter;
  private readonly follower: FeedFollower;
  private readonly relay: Relay;
  private readonly eventRelay: EventRelay;
  private readonly lock: LeaderLock;
  /** Rings the leader's drain loop (a publish failed: the next drain throws and starts over). */
  private ringLoop: () => void = () => {};

  constructor(private readonly options: BridgeOptions) {
    const { config, log, pool } = options;
    this.config = config;
    this.log = log;
    this.metrics = createBridgeMetrics(options.registry, backlogProbe(pool));
    this.publisher = this.publisherOf('feed', 'publisher', 'amqp');
    this.eventPublisher = this.publisherOf('events', 'event-publisher', 'amqp-events');
    this.watermarks = createWatermarkWriter(pool, (e: unknown) => {
      this.metrics.failures.inc({ stage: 'watermark' });
      log.warn({ err: toError(e) }, 'cannot write the watermarks; retrying with the next');
    });
    this.follower = this.createFollower();
    this.relay = this.feedRelay();
    this.eventRelay = this.perEventRelay();
    this.lock = createLeaderLock({
      databaseUrl: options.databaseUrl,
      retryMs: config.leaderRetryMs,
      log: log.child({ part: 'leader-lock' }),
      lead: (leadership) => this.lead(leadership),
      onStateChange: (state) => this.metrics.isLeader.set(state === 'leader' ? 1 : 0),
      onReconnect: () => this.metrics.reconnects.inc({ link: 'lock' }),
    });
  }

  get state(): LeaderState {
    return this.lock.state;
  }

  async start(): Promise<void> {
    this.metrics.isLeader.set(0);
    await this.lock.start();
  }

  async stop(): Promise<void> {
    // The lock stops first: the relay sees the abort between steps; a batch abandoned mid-way
    // is numbered but unconfirmed, and the next leader republishes it under the same positions.
    const grace = new AbortController();
    await Promise.race([this.lock.stop(), delay(STOP_GRACE_MS, grace.signal)]);
    grace.abort();
    await this.publisher.close();
    await this.eventPublisher.close();
    await this.lock.stop();
  }

  async ready(): Promise<void> {
    if (this.lock.state === 'unknown') throw new Error('leadership not known yet');
    if (this.lock.state === 'leader' && !this.publisher.connected)
      throw new Error('leader has no RabbitMQ channel');
  }

  brokers(): { 'bridge-feed': string | null; 'bridge-events': string | null } {
    return { 'bridge-feed': this.publisher.node, 'bridge-events': this.eventPublisher.node };
  }

  private publisherOf(kind: PublisherKind, part: string, link: string): Publisher {
    return createPublisher({
      urls: this.options.rabbitmqUrls,
      exchange: this.options.exchange,
      kind,
      log: this.log.child({ part }),
      onReconnect: () => this.metrics.reconnects.inc({ link }),
    });
  }

  private createFollower(): FeedFollower {
    const { metrics } = this;
    return createFeedFollower({
      relay: {
        drain: (...args) => this.eventRelay.drain(...args),
        forget: () => this.eventRelay.forget(),
      },
      db: this.options.pool,
      publisher: this.eventPublisher,
      recent: createRecentEvents(RECENT_EVENTS_KEPT),
      pollIntervalMs: this.config.pollIntervalMs,
      ratePerSecondWhileBusy: this.config.eventsRateWhileBusy,
      log: this.log,
      onBehind: (n) => metrics.eventsBehind.set(n),
      onFailure: () => metrics.failures.inc({ stage: 'events' }),
    });
  }

  private feedRelay(): Relay {
    const { metrics, follower } = this;
    return createRelay({
      publisher: this.publisher,
      watermark: this.watermarks.of('confirmed_through'),
      batchSize: this.config.batchSize,
      lingerMs: this.config.lingerMs,
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
      onFailure: () => this.ringLoop(),
    });
  }

  private perEventRelay(): EventRelay {
    const { follower } = this;
    return createEventRelay({
      publisher: this.eventPublisher,
      recent: follower.recent,
      stepsInFlight: () => (follower.feedIdle ? MAX_STEPS_IN_FLIGHT : 1),
      feedThrough: () => this.relay.confirmedThrough,
      watermark: this.watermarks.of('events_confirmed_through'),
      onPublished: (n) => this.metrics.eventsPublished.inc(n),
      onStep: (n) => follower.stepped(n),
    });
  }

  private async lead({ client, signal }: Leadership): Promise<void> {
    const feedLog = await this.enter(client);
    const loop = this.drainLoop(client, signal, feedLog);
    const doorbell = this.doorbellFor(loop);
    this.ringLoop = () => loop.ring('poll');
    await doorbell.start();
    const events = this.follower.run(signal);
    try {
      await loop.done;
    } finally {
      await this.leave(doorbell, events);
    }
  }

  /** A new leadership: a new epoch, nothing remembered of the old one, the session's planner set. */
  private async enter(client: pg.Client): Promise<FeedLog> {
    // Before anything is numbered: a promoted standby's log may end below positions published
    // before, and what this process remembers of them (watermarks, events kept for the per-event
    // relay) belongs to the old history.
    // The old window is given up first: a confirm arriving meanwhile raises nothing.
    this.relay.recover();
    const epoch = await enterEpoch(client);
    this.log.info({ epoch }, 'numbering under epoch');
    this.watermarks.reset(epoch);
    this.follower.recent.clear();
    const feedLog = createFeedLog(client);
    // A new leader catches up on the feed first; its first drain says whether a backlog is left.
    this.follower.drained(true);
    // Every query the leader runs wants an index (unnumbered events by txid, batches by position);
    // after a burst, lagging statistics made the planner pick bitmap scans and sorts (docs/design.md,
    // "The bridge"). This session is the leader's own; JIT is off as in every pool.ts session.
    await client.query('SET enable_bitmapscan = off; SET enable_seqscan = off; SET jit = off');
    return feedLog;
  }

  private drainLoop(client: pg.Client, signal: AbortSignal, feedLog: FeedLog): DrainLoop {
    let nextRetention = 0;
    return runDrainLoop({
      client,
      signal,
      log: this.log,
      drain: async () => {
        await this.publisher.open();
        const handed = await this.relay.drain(feedLog, signal);
        if (Date.now() >= nextRetention) {
          nextRetention = Date.now() + RETENTION_EVERY_MS;
          await this.retain(client, signal);
        }
        return { handed, more: this.follower.feedBacklogged };
      },
      leaseAbovePerSecond: this.config.leaseAbovePerSecond,
      onFailure: () => this.metrics.failures.inc({ stage: 'relay' }),
      onModeChange: (mode) => this.metrics.active.set(mode === 'active' ? 1 : 0),
    });
  }

  private doorbellFor(loop: DrainLoop): Doorbell {
    return createDoorbell({
      databaseUrl: this.options.databaseUrl,
      pollIntervalMs: this.config.pollIntervalMs,
      log: this.log.child({ part: 'doorbell' }),
      ring: (reason) => loop.ring(reason),
      onReconnect: () => this.metrics.reconnects.inc({ link: 'listen' }),
    });
  }

  /** The leadership ended: everything confirmed is written down before a successor takes over. */
  private async leave(doorbell: Doorbell, events: Promise<void>): Promise<void> {
    this.ringLoop = () => {};
    await doorbell.stop();
    await events;
    // What is confirmed now is written now: a successor republishes only what was not.
    await this.relay.settle(STOP_GRACE_MS).catch(() => undefined);
    await this.watermarks
      .flush()
      .catch((e: unknown) => this.log.warn({ err: toError(e) }, 'cannot write the watermarks'));
    this.metrics.active.set(0);
  }

  private async retain(client: pg.Client, signal: AbortSignal): Promise<void> {
    const cutoff = new Date(Date.now() - this.config.retentionMs);
    const deleted = await deleteExpired(client, cutoff, signal);
    if (deleted > 0) {
      this.metrics.retained.inc(deleted);
      this.log.info({ deleted }, 'retention deleted published events');
    }
  }
}

/** The estimate: a scrape costs a few index reads whatever the backlog. */
function backlogProbe(pool: pg.Pool): BacklogProbe {
  return { backlog: () => backlog(pool, { estimate: true }) };
}
