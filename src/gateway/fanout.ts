// The fanout: what the ordered stream releases goes to every live client. Events are grouped per
// I/O tick (at low rate that is one event; under load, everything the broker delivered in one
// read, up to MAX_BATCH), and each group is encoded once per distinct filter — clients with the
// same filter share a Socket.IO room — so 1,000 clients cost one encoding, not 1,000. The last
// RECENT_EVENTS events stay in the replay ring so a reconnecting client resumes without the
// database. The broadcast stream only ever goes up by one: a repeat is dropped, and a hole (the
// log lost positions) sends every live client `resync` instead of a silent jump. So does a fork
// (the log went back to another history, invariant 9): the stream continues from the fork.
// No I/O of its own (the rooms are handed in) and no failure of its own: stop() drops what is queued.

import type { OrderEvent } from '../contract/events.js';
import { type EventFilter, matchesFilter } from '../contract/socket.js';
import { follows } from '../lib/positions.js';
import type { GatewayMetrics } from './metrics.js';
import { createReplayRing, type ReplayRing } from './replay-ring.js';
import type { PositionRange } from './sequencer.js';

/** Most events in one `events` message. */
export const MAX_BATCH = 500;
/** Events kept for in-memory replay: about 10 s at 1,000 events/s. */
export const RECENT_EVENTS = 10_000;
/** The room of clients without a filter. */
const ALL = 'live:all';

export interface Fanout {
  /** The last position broadcast to live clients. */
  readonly head: number;
  /** Events continuing the stream; repeats are dropped, a hole is handled as `skip`. */
  push(events: OrderEvent[]): void;
  /** Positions lost from the log: live clients are told to resync; the stream continues after. */
  skip(range: PositionRange): void;
  /**
   * The log's history went back to `position`: if anything after it was sent or queued, what was
   * queued is dropped, live clients are told to resync, the replay ring starts over and the
   * stream continues after `position`.
   */
  fork(position: number, reason: string): void;
  /** Forks that went back so far (a replaying client compares it with `forkedSince`). */
  readonly forks: number;
  /** The lowest position forked back to after the first `count` forks, or null when none since. */
  forkedSince(count: number): number | null;
  /** At most `limit` events in (after, head] from memory, or null when memory does not reach back. */
  recent(after: number, limit: number): OrderEvent[] | null;
  /** The room a client with this filter joins. */
  roomFor(filter: EventFilter | undefined): string;
  /** A room has no client left: its filter is no longer applied. */
  forget(room: string): void;
  stop(): void;
}

/** The live clients, grouped in rooms by filter (Socket.IO rooms; a fake in unit tests). */
export interface LiveRooms {
  /** Clients in `room` now. */
  size(room: string): number;
  /** Sends `events` to every client in `room`. */
  emit(room: string, events: OrderEvent[]): void;
  /** Tells every client in `room` to resync, then disconnects them. */
  resync(room: string, reason: string): void;
}

export interface FanoutOptions {
  rooms: LiveRooms;
  /** The position clients already have: the first one broadcast is start + 1. */
  start: number;
  metrics: GatewayMetrics;
  /** @default RECENT_EVENTS */
  recentEvents?: number;
  /** After each broadcast: the last position now sent to the live rooms. */
  onBroadcast?(through: number): void;
}

export function createFanout(options: FanoutOptions): Fanout {
  return new RoomFanout(options);
}

class RoomFanout implements Fanout {
  readonly #rooms: LiveRooms;
  readonly #metrics: GatewayMetrics;
  readonly #onBroadcast: ((through: number) => void) | undefined;
  readonly #ring: ReplayRing;
  #pending: OrderEvent[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  readonly #filters = new Map<string, EventFilter | undefined>([[ALL, undefined]]);
  /** The position of each fork that went back, in order. */
  readonly #forks: number[] = [];

  constructor({ rooms, start, metrics, recentEvents = RECENT_EVENTS, onBroadcast }: FanoutOptions) {
    this.#rooms = rooms;
    this.#metrics = metrics;
    this.#onBroadcast = onBroadcast;
    this.#ring = createReplayRing(recentEvents, start);
  }

  get head(): number {
    return this.#ring.end;
  }
  get forks(): number {
    return this.#forks.length;
  }

  push(events: OrderEvent[]): void {
    const { parts, refused } = continueStream(this.#queuedThrough(), events);
    if (refused > 0) this.#metrics.duplicates.inc(refused);
    for (const part of parts) {
      if ('hole' in part) this.#skip(part.hole);
      else this.#pending.push(...part.events);
    }
    if (this.#pending.length >= MAX_BATCH) this.#flush();
    else if (this.#pending.length > 0) this.#scheduled ??= setImmediate(() => this.#flush());
  }

  skip(range: PositionRange): void {
    if (range.to > this.#queuedThrough()) this.#skip(range);
  }

  fork(position: number, reason: string): void {
    if (this.#queuedThrough() <= position) return;
    this.#pending = this.#pending.filter((event) => event.position <= position);
    this.#flush();
    // Every live client stands at the head, above the fork (a filtered one may not have had an
    // event there, but cannot tell which positions it missed).
    if (this.#ring.end > position) this.#resyncAll(reason, 'epoch');
    this.#ring.reset(position);
    this.#forks.push(position);
  }

  forkedSince(count: number): number | null {
    return this.#forks.length > count ? Math.min(...this.#forks.slice(count)) : null;
  }

  recent(after: number, limit: number): OrderEvent[] | null {
    return this.#ring.after(after, limit);
  }

  roomFor(filter: EventFilter | undefined): string {
    if (!filter || (filter.status === undefined && filter.order_id === undefined)) return ALL;
    const key = `live:${JSON.stringify({ status: filter.status ? [...filter.status].sort() : undefined, order_id: filter.order_id })}`;
    if (!this.#filters.has(key)) this.#filters.set(key, filter);
    return key;
  }

  forget(room: string): void {
    if (room !== ALL) this.#filters.delete(room);
  }

  stop(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#pending = [];
  }

  /** The last position broadcast or waiting in `pending`. */
  #queuedThrough(): number {
    return this.#pending.at(-1)?.position ?? this.#ring.end;
  }

  #flush(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    if (this.#pending.length === 0) return;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_BATCH);
      this.#broadcast(batch);
      this.#ring.append(batch);
    }
    this.#onBroadcast?.(this.#ring.end);
  }

  #broadcast(batch: OrderEvent[]): void {
    const now = Date.now();
    for (const event of batch) {
      if (event.published_at)
        this.#metrics.emitDelay.observe(Math.max(0, now - Date.parse(event.published_at)) / 1000);
    }
    for (const [room, filter] of this.#filters) {
      const size = this.#rooms.size(room);
      if (size === 0) continue;
      const selected = filter ? batch.filter((e) => matchesFilter(e, filter)) : batch;
      if (selected.length === 0) continue;
      this.#rooms.emit(room, selected);
      this.#metrics.emitted.inc(selected.length * size);
    }
  }

  #skip({ from, to }: PositionRange): void {
    this.#flush();
    this.#resyncAll(`positions ${from}–${to} are missing from the change log`, 'positions missing');
    this.#ring.reset(to);
  }

  #resyncAll(reason: string, metric: string): void {
    for (const room of this.#filters.keys()) {
      const size = this.#rooms.size(room);
      if (size === 0) continue;
      this.#metrics.resyncs.inc({ reason: metric }, size);
      this.#rooms.resync(room, reason);
    }
  }
}

export type StreamPart = { events: OrderEvent[] } | { hole: PositionRange };

/**
 * Splits events that should continue a stream standing at `after` into what continues it by
 * exactly one and the holes between: a repeat (at or below the last position) is refused.
 */
export function continueStream(
  after: number,
  events: readonly OrderEvent[],
): { parts: StreamPart[]; refused: number; through: number } {
  const parts: StreamPart[] = [];
  let refused = 0;
  let last = after;
  let run: OrderEvent[] = [];
  for (const event of events) {
    const step = follows(last, event.position);
    if (step === 'repeat') {
      refused++;
      continue;
    }
    if (step === 'gap') {
      if (run.length > 0) parts.push({ events: run });
      parts.push({ hole: { from: last + 1, to: event.position - 1 } });
      run = [];
    }
    run.push(event);
    last = event.position;
  }
  if (run.length > 0) parts.push({ events: run });
  return { parts, refused, through: last };
}
