// An observer: a socket.io-client that behaves like a careful dashboard. It starts at position 0
// (replaying the whole log), rebuilds the orders table from events, and after every disconnect
// reconnects — to the next gateway in its list — resuming with `since`. It records every
// violation of the promise: a repeated position, a skipped one, a resync.

import { io, type Socket } from 'socket.io-client';
import type { Order, OrderEvent } from '../../src/contract/events.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/contract/socket.js';

export interface ObserverStats {
  last: number;
  received: number;
  duplicates: number;
  gaps: { after: number; got: number }[];
  resyncs: number;
  reconnects: number;
  maxLagMs: number;
}

export class Observer {
  readonly orders = new Map<number, Order>();
  readonly stats: ObserverStats = {
    last: 0,
    received: 0,
    duplicates: 0,
    gaps: [],
    resyncs: 0,
    reconnects: 0,
    maxLagMs: 0,
  };
  private socket: Socket<ServerToClientEvents, ClientToServerEvents> | undefined;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly urls: () => string[]) {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const urls = this.urls();
    const url = urls[this.next++ % urls.length]!;
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { since: this.stats.last },
    });
    this.socket = socket;
    socket.on('events', (events) => this.apply(events));
    socket.on('resync', () => this.stats.resyncs++);
    const retry = () => {
      socket.removeAllListeners();
      socket.disconnect();
      if (this.stopped || this.socket !== socket) return;
      this.stats.reconnects++;
      this.timer = setTimeout(() => this.connect(), 100 + Math.random() * 200);
    };
    socket.on('disconnect', retry);
    socket.on('connect_error', retry);
  }

  private apply(events: OrderEvent[]): void {
    const now = Date.now();
    for (const event of events) {
      if (event.position <= this.stats.last) {
        this.stats.duplicates++;
        continue;
      }
      if (event.position !== this.stats.last + 1)
        this.stats.gaps.push({ after: this.stats.last, got: event.position });
      this.stats.last = event.position;
      this.stats.received++;
      this.stats.maxLagMs = Math.max(this.stats.maxLagMs, now - Date.parse(event.occurred_at));
      if (event.op === 'truncate') this.orders.clear();
      else if (event.op === 'delete') this.orders.delete(event.order_id!);
      else {
        const current = this.orders.get(event.order_id!);
        if (!current || current.version < event.version!) this.orders.set(event.order_id!, event.order!);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
  }
}
