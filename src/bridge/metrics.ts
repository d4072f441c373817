// The bridge's Prometheus metrics, registered on the registry the process serves at /metrics. A
// scrape whose backlog query fails reports NaN for the backlog and the lag, never an error.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { STAGE_BUCKETS_S } from '../lib/stage-buckets.js';

export interface BridgeMetrics {
  published: Counter;
  publishSeconds: Histogram;
  /** Per event: capture (occurred_at, the database's clock) → its numbering committed. */
  captureToNumbered: Histogram;
  /** Per feed batch: numbering committed → its message written to the broker's socket. */
  numberedToHanded: Histogram;
  isLeader: Gauge;
  active: Gauge;
  reconnects: Counter<'link'>;
  failures: Counter<'stage'>;
  retained: Counter;
  eventsPublished: Counter;
  eventsBehind: Gauge;
}

export interface BacklogProbe {
  /** Events not yet published and the age of the oldest of them, in seconds (0 when none). */
  backlog(): Promise<{ count: number; lagSeconds: number }>;
}

export function createBridgeMetrics(registry: Registry, probe: BacklogProbe): BridgeMetrics {
  registerBacklogGauges(registry, probe);
  return { ...feedMetrics(registry), ...leaderMetrics(registry), ...eventMetrics(registry) };
}

/** Backlog and lag come from one query per scrape, shared by the two gauges. */
function registerBacklogGauges(registry: Registry, probe: BacklogProbe): void {
  let pending: Promise<{ count: number; lagSeconds: number }> | undefined;
  const sample = () => {
    pending ??= probe.backlog().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  new Gauge({
    name: 'orders_live_bridge_backlog',
    help: 'Events in the change log not yet confirmed by RabbitMQ (estimated from index ends)',
    registers: [registry],
    async collect() {
      this.set((await sample().catch(() => ({ count: Number.NaN }))).count);
    },
  });
  new Gauge({
    name: 'orders_live_bridge_lag_seconds',
    help: 'Age of the oldest event not yet confirmed by RabbitMQ (0 when none)',
    registers: [registry],
    async collect() {
      this.set((await sample().catch(() => ({ lagSeconds: Number.NaN }))).lagSeconds);
    },
  });
}

/** The gateways' feed: what it published and how long each stage took. */
function feedMetrics(
  registry: Registry,
): Pick<BridgeMetrics, 'published' | 'publishSeconds' | 'captureToNumbered' | 'numberedToHanded'> {
  return {
    published: counter(
      registry,
      'orders_live_bridge_published_total',
      'Events published and confirmed by RabbitMQ (republished ones count again)',
    ),
    publishSeconds: new Histogram({
      name: 'orders_live_bridge_publish_seconds',
      help: 'Time from numbering a batch to RabbitMQ confirming all of it',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    captureToNumbered: new Histogram({
      name: 'orders_live_bridge_capture_to_numbered_seconds',
      help: "Per event: from its capture (occurred_at, the database's clock) to its numbering committed",
      buckets: STAGE_BUCKETS_S,
      registers: [registry],
    }),
    numberedToHanded: new Histogram({
      name: 'orders_live_bridge_numbered_to_handed_seconds',
      help: "Per feed batch: from its numbering committed to its message written to the broker's socket",
      buckets: STAGE_BUCKETS_S,
      registers: [registry],
    }),
  };
}

/** The role itself: leadership, the doorbell's mode, reconnections, failures, retention. */
function leaderMetrics(
  registry: Registry,
): Pick<BridgeMetrics, 'isLeader' | 'active' | 'reconnects' | 'failures' | 'retained'> {
  return {
    isLeader: gauge(registry, 'orders_live_bridge_is_leader', '1 while this bridge holds the leader lock'),
    active: gauge(
      registry,
      'orders_live_bridge_active',
      '1 while the leader polls and writers skip NOTIFY; 0 while it waits for the doorbell',
    ),
    reconnects: new Counter({
      name: 'orders_live_bridge_reconnects_total',
      help: 'Reconnections of the bridge, by link (listen, amqp, lock)',
      labelNames: ['link'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'orders_live_bridge_failures_total',
      help: 'Failed relay steps, by stage; each is retried with backoff',
      labelNames: ['stage'],
      registers: [registry],
    }),
    retained: counter(
      registry,
      'orders_live_bridge_retention_deleted_total',
      'Published events deleted by retention',
    ),
  };
}

/** The per-event exchange, for integrations. */
function eventMetrics(registry: Registry): Pick<BridgeMetrics, 'eventsPublished' | 'eventsBehind'> {
  return {
    eventsPublished: counter(
      registry,
      'orders_live_bridge_events_published_total',
      'Events confirmed by RabbitMQ on the per-event exchange (for integrations)',
    ),
    eventsBehind: gauge(
      registry,
      'orders_live_bridge_events_behind',
      'Positions published on the gateways feed and not yet on the per-event exchange',
    ),
  };
}

function counter(registry: Registry, name: string, help: string): Counter {
  return new Counter({ name, help, registers: [registry] });
}

function gauge(registry: Registry, name: string, help: string): Gauge {
  return new Gauge({ name, help, registers: [registry] });
}
