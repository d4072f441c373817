// The gateway's Prometheus metrics.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { STAGE_BUCKETS_S } from '../lib/stage-buckets.js';

export interface GatewayMetrics {
  clients: Gauge;
  emitted: Counter;
  replays: Counter<'source'>;
  resyncs: Counter<'reason'>;
  deadLettered: Counter;
  duplicates: Counter;
  gapFilled: Counter;
  slowDisconnects: Counter;
  emitDelay: Histogram;
  /** Per feed message: handed to the broker by the bridge → received here. */
  feedDelay: Histogram;
  /** Per feed message: received here → its last event broadcast to the live rooms. */
  receiveToEmit: Histogram;
  reconnects: Counter;
  shed: Counter;
}

export function createGatewayMetrics(registry: Registry, heldBytes: () => number = () => 0): GatewayMetrics {
  const registers = [registry];
  new Gauge({
    name: 'orders_live_gateway_held_bytes',
    help: 'Bytes of events held above a gap while it is filled from the log (capped)',
    registers,
    collect() {
      this.set(heldBytes());
    },
  });
  return {
    clients: new Gauge({
      name: 'orders_live_gateway_clients',
      help: 'Connected Socket.IO clients',
      registers,
    }),
    emitted: new Counter({
      name: 'orders_live_gateway_events_emitted_total',
      help: 'Events sent to clients (one per event per receiving client)',
      registers,
    }),
    replays: new Counter({
      name: 'orders_live_gateway_replays_total',
      help: 'Clients that resumed with `since`, by where the replay was read (memory, log)',
      labelNames: ['source'],
      registers,
    }),
    resyncs: new Counter({
      name: 'orders_live_gateway_resyncs_total',
      help: 'Clients told to reload the snapshot, by reason',
      labelNames: ['reason'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'orders_live_gateway_dead_lettered_total',
      help: 'Messages that could not be parsed and went to the dead-letter queue',
      registers,
    }),
    duplicates: new Counter({
      name: 'orders_live_gateway_duplicates_dropped_total',
      help: 'Messages dropped because their position was already sent',
      registers,
    }),
    gapFilled: new Counter({
      name: 'orders_live_gateway_gap_filled_total',
      help: 'Events read from the change log to fill a gap in what the broker delivered',
      registers,
    }),
    slowDisconnects: new Counter({
      name: 'orders_live_gateway_slow_client_disconnects_total',
      help: 'Clients cut off because their unsent buffer passed the bound',
      registers,
    }),
    emitDelay: new Histogram({
      name: 'orders_live_gateway_emit_delay_seconds',
      help: 'From published_at (bridge) to the broadcast leaving this gateway',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    feedDelay: new Histogram({
      name: 'orders_live_gateway_feed_delay_seconds',
      help: "Per feed message: from the bridge writing it to the broker (its x-handed-at header, the bridge's clock) to this gateway receiving it",
      buckets: STAGE_BUCKETS_S,
      registers,
    }),
    receiveToEmit: new Histogram({
      name: 'orders_live_gateway_receive_to_emit_seconds',
      help: 'Per feed message: from this gateway receiving it to its last event broadcast to the live rooms',
      buckets: STAGE_BUCKETS_S,
      registers,
    }),
    shed: new Counter({
      name: 'orders_live_gateway_held_shed_total',
      help: 'Events held above a gap let go over the byte cap (read from the log later)',
      registers,
    }),
    reconnects: new Counter({
      name: 'orders_live_gateway_reconnects_total',
      help: 'Reconnections of the AMQP consumer',
      registers,
    }),
  };
}
