// The fanout: what the sequencer releases goes to every live client. Events are grouped per I/O
// tick (at low rate that is one event; under load, everything the broker delivered in one read,
// up to MAX_BATCH), and each group is encoded once per distinct filter — clients with the same
// filter share a Socket.IO room — so 1,000 clients cost one encoding, not 1,000. The last
// RECENT_EVENTS events stay in memory so a reconnecting client resumes without touching the
// database.

import type { Server } from 'socket.io';
import type { OrderEvent } from '../contract/events.js';
import { type EventFilter, matchesFilter } from '../contract/socket.js';
import type { GatewayMetrics } from './metrics.js';

/** Most events in one `events` message. */
export const MAX_BATCH = 500;
/** Events kept for in-memory replay: about 10 s at 1,000 events/s. */
export const RECENT_EVENTS = 10_000;

export interface Fanout {
  /** The last position broadcast to live clients. */
  readonly head: number;
  push(events: OrderEvent[]): void;
  /** Events in (after, head] from memory, or null when memory does not reach back that far. */
  recent(after: number): OrderEvent[] | null;
  /** The room a client with this filter joins. */
  roomFor(filter: EventFilter | undefined): string;
  stop(): void;
}

export interface FanoutOptions {
  io: Server;
  /** The position clients already have: the first one broadcast is start + 1. */
  start: number;
  metrics: GatewayMetrics;
  /** @default RECENT_EVENTS */
  recentEvents?: number;
}

export function createFanout({ io, start, metrics, recentEvents = RECENT_EVENTS }: FanoutOptions): Fanout {
  let head = start;
  let pending: OrderEvent[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const filters = new Map<string, EventFilter | undefined>([['live:all', undefined]]);
  // ring[i] holds position ringStart + i: the broadcast stream has no gaps.
  let ring: OrderEvent[] = [];
  let ringStart = start + 1;

  io.of('/').adapter.on('delete-room', (room: string) => {
    if (room !== 'live:all') filters.delete(room);
  });

  function flush(): void {
    scheduled = undefined;
    while (pending.length > 0) {
      const batch = pending.splice(0, MAX_BATCH);
      broadcast(batch);
      head = batch.at(-1)!.position;
      remember(batch);
    }
  }

  function broadcast(batch: OrderEvent[]): void {
    const now = Date.now();
    for (const event of batch) {
      if (event.published_at)
        metrics.emitDelay.observe(Math.max(0, now - Date.parse(event.published_at)) / 1000);
    }
    const rooms = io.of('/').adapter.rooms;
    for (const [room, filter] of filters) {
      const size = rooms.get(room)?.size ?? 0;
      if (size === 0) continue;
      const selected = filter ? batch.filter((e) => matchesFilter(e, filter)) : batch;
      if (selected.length === 0) continue;
      io.to(room).emit('events', selected);
      metrics.emitted.inc(selected.length * size);
    }
  }

  function remember(batch: OrderEvent[]): void {
    ring.push(...batch);
    // Trimmed in steps of half the size, so the copy happens rarely.
    if (ring.length > recentEvents * 1.5) {
      const drop = ring.length - recentEvents;
      ring = ring.slice(drop);
      ringStart += drop;
    }
  }

  return {
    get head() {
      return head;
    },
    push(events) {
      pending.push(...events);
      if (pending.length >= MAX_BATCH) {
        if (scheduled) clearImmediate(scheduled);
        flush();
      } else {
        scheduled ??= setImmediate(flush);
      }
    },
    recent(after) {
      if (after < ringStart - 1 || after > head) return null;
      return ring.slice(after - ringStart + 1);
    },
    roomFor(filter) {
      if (!filter || (filter.status === undefined && filter.order_id === undefined)) return 'live:all';
      const key = `live:${JSON.stringify({ status: filter.status ? [...filter.status].sort() : undefined, order_id: filter.order_id })}`;
      if (!filters.has(key)) filters.set(key, filter);
      return key;
    },
    stop() {
      if (scheduled) clearImmediate(scheduled);
      scheduled = undefined;
      pending = [];
    },
  };
}
