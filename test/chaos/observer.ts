// An observer: an application built on the client library (src/client), following both gateways
// in turn. Half of them follow the change log from position 0 with `events()` and rebuild the
// table themselves; the other half keep `liveOrders()` (snapshot, then the stream). Each records
// what the library delivered — a position twice or out of turn is a violation of the library's
// promise — and what the library mended (positions the gateways sent twice, gaps they left),
// which is a violation of the gateways' promise.

import { createLiveOrders, type EventStream, events, type LiveOrders } from '../../src/client/index.js';
import { createOrderSet } from '../../src/client/order-set.js';
import type { Order, OrderEvent } from '../../src/contract/events.js';

export type ObserverKind = 'events' | 'live';

export interface ObserverStats {
  /** The position before the first one delivered: 0, or a snapshot's. */
  base: number;
  last: number;
  received: number;
  /** Delivered by the library at or below a position it had already delivered. */
  duplicates: number;
  /** Delivered by the library past the next position. */
  gaps: { after: number; got: number }[];
  /** What the library dropped and resumed over: positions the gateways repeated or skipped. */
  gatewayRepeats: number;
  gatewayGaps: number;
  resyncs: number;
  reconnects: number;
  maxLagMs: number;
  /** When the last event delivered was captured (occurred_at, ms since the epoch); 0 before any. */
  lastOccurredAt: number;
}

/**
 * What names an event at its position, as the log can be asked again later (pg-faults.ts): the
 * change, `order_id:version:op` as the writer load records it, then its transaction, when it was
 * captured and when it was numbered.
 */
export function fingerprint(
  event: Pick<OrderEvent, 'op' | 'order_id' | 'version' | 'txid' | 'occurred_at' | 'published_at'>,
): string {
  const change = `${event.order_id}:${event.version}:${event.op}`;
  return [change, event.txid, event.occurred_at, event.published_at].join('|');
}

/** The change a fingerprint names, `order_id:version:op`. */
export function changeOf(fingerprint: string): string {
  return fingerprint.slice(0, fingerprint.indexOf('|'));
}

export class Observer {
  readonly stats: ObserverStats = {
    base: 0,
    last: 0,
    received: 0,
    duplicates: 0,
    gaps: [],
    gatewayRepeats: 0,
    gatewayGaps: 0,
    resyncs: 0,
    reconnects: 0,
    maxLagMs: 0,
    lastOccurredAt: 0,
  };
  /** Each position delivered, with the fingerprint of its event (after a snapshot: from its position on). */
  readonly seen = new Map<number, string>();
  private readonly table = createOrderSet();
  private readonly live: LiveOrders | undefined;
  private readonly stream: EventStream | undefined;

  constructor(
    readonly kind: ObserverKind,
    urls: string[],
  ) {
    const onStatus = (status: string) => {
      if (status === 'reconnecting') this.stats.reconnects++;
      if (status === 'reloading') this.stats.resyncs++;
    };
    if (kind === 'live') {
      const live = createLiveOrders({ url: urls });
      live.on('event', (event) => this.record(event));
      live.on('reset', () => {
        this.stats.base = live.position ?? 0;
        this.stats.last = this.stats.base;
        this.stats.received = 0;
        this.seen.clear();
      });
      live.on('status', onStatus);
      void live.start();
      this.live = live;
    } else {
      const stream = events({ url: urls, since: 0, onStatus });
      this.stream = stream;
      void this.follow(stream);
    }
  }

  /** The table as this observer's application sees it. */
  orders(): Order[] {
    return this.live ? this.live.all() : [...this.table.values()];
  }

  private async follow(stream: EventStream): Promise<void> {
    try {
      for await (const event of stream) {
        this.table.apply(event);
        this.record(event);
      }
    } catch {
      this.stats.resyncs++;
    }
  }

  /** The highest position delivered in each epoch of the log (a fork starts a new one). */
  readonly lastByEpoch = new Map<number, number>();

  private record(event: OrderEvent): void {
    const { stats } = this;
    const epoch = event.epoch ?? 1;
    this.lastByEpoch.set(epoch, Math.max(this.lastByEpoch.get(epoch) ?? 0, event.position));
    if (event.position <= stats.last) {
      stats.duplicates++;
      return;
    }
    if (event.position !== stats.last + 1) stats.gaps.push({ after: stats.last, got: event.position });
    stats.last = event.position;
    stats.received++;
    stats.lastOccurredAt = Date.parse(event.occurred_at);
    stats.maxLagMs = Math.max(stats.maxLagMs, Date.now() - stats.lastOccurredAt);
    this.seen.set(event.position, fingerprint(event));
    const mended = (this.live ?? this.stream)!.stats;
    stats.gatewayRepeats = mended.duplicates;
    stats.gatewayGaps = mended.gaps;
  }

  stop(): void {
    this.live?.close();
    this.stream?.close();
  }
}
