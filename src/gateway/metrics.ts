// The gateway's Prometheus metrics, registered on the registry it is given (a name registered twice
// on one registry throws).

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

/** Bucket bounds of the emit delay, seconds: 1 ms to 5 s. */
const EMIT_DELAY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

type Registers = Registry[];
type Histograms = Pick<GatewayMetrics, 'emitDelay' | 'feedDelay' | 'receiveToEmit'>;
type Counters = Omit<GatewayMetrics, 'clients' | keyof Histograms>;

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
  const clients = new Gauge({
    name: 'orders_live_gateway_clients',
    help: 'Connected Socket.IO clients',
    registers,
  });
  return { clients, ...createCounters(registers), ...createHistograms(registers) };
}

function createCounters(registers: Registers): Counters {
  const counter = <L extends string = string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  return {
    emitted: counter(
      'orders_live_gateway_events_emitted_total',
      'Events sent to clients (one per event per receiving client)',
    ),
    replays: counter(
      'orders_live_gateway_replays_total',
      'Clients that resumed with `since`, by where the replay was read (memory, log)',
      ['source'],
    ),
    resyncs: counter('orders_live_gateway_resyncs_total', 'Clients told to reload the snapshot, by reason', [
      'reason',
    ]),
    deadLettered: counter(
      'orders_live_gateway_dead_lettered_total',
      'Messages that could not be parsed and went to the dead-letter queue',
    ),
    duplicates: counter(
      'orders_live_gateway_duplicates_dropped_total',
      'Messages dropped because their position was already sent',
    ),
    gapFilled: counter(
      'orders_live_gateway_gap_filled_total',
      'Events read from the change log to fill a gap in what the broker delivered',
    ),
    slowDisconnects: counter(
      'orders_live_gateway_slow_client_disconnects_total',
      'Clients cut off because their unsent buffer passed the bound',
    ),
    shed: counter(
      'orders_live_gateway_held_shed_total',
      'Events let go from memory (held above a gap over the byte cap, or parked while the epochs are read); read from the log later',
    ),
    reconnects: counter('orders_live_gateway_reconnects_total', 'Reconnections of the AMQP consumer'),
  };
}

function createHistograms(registers: Registers): Histograms {
  const histogram = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name, help, buckets, registers });
  return {
    emitDelay: histogram(
      'orders_live_gateway_emit_delay_seconds',
      'From published_at (bridge) to the broadcast leaving this gateway',
      EMIT_DELAY_BUCKETS_S,
    ),
    feedDelay: histogram(
      'orders_live_gateway_feed_delay_seconds',
      "Per feed message: from the bridge writing it to the broker (its x-handed-at header, the bridge's clock) to this gateway receiving it",
      STAGE_BUCKETS_S,
    ),
    receiveToEmit: histogram(
      'orders_live_gateway_receive_to_emit_seconds',
      'Per feed message: from this gateway receiving it to its last event broadcast to the live rooms',
      STAGE_BUCKETS_S,
    ),
  };
}
