// A child program holding N socket.io clients for a benchmark (so the clients' work does not slow
// the writers, and the gateway sees real separate connections). The parent announces each event's
// commit time; this process times every receipt against it in one clock (see clockMs and the
// parent's ping-based offset), and answers status and collect requests over IPC.

import { io, type Socket } from 'socket.io-client';
import type { OrderEvent } from '../src/contract/events.js';
import {
  type CommitBatch,
  clockMs,
  type FleetMode,
  type FleetReply,
  type FleetRequest,
  type FleetStatus,
  type FleetWindow,
} from './lib/fleet-protocol.js';
import { eventKey } from './lib/paced-writer.js';

/** Clients connecting at once: more makes the gateway's accept queue the bottleneck of the setup. */
const CONNECT_WAVE = 50;
const CONNECT_TIMEOUT_MS = 30_000;

class Samples {
  private data = new Float64Array(1024);
  private length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }
  take(): Float64Array {
    const out = this.data.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

interface Pending {
  at: number;
  remaining: number;
}

const sockets: Socket[] = [];
const lastPosition: number[] = [];
let offsetMs = 0;
let disconnects = 0;
const commits = new Map<number, Pending>();
const commitOrder: number[] = [];
let orderHead = 0;
/** Receipts that arrived before their commit was announced: key → [client, at, publishedAt]. */
const early = new Map<number, [number, number, number][]>();
let latencies = new Samples();
let toPublished = new Samples();
let fromPublished = new Samples();
let received = 0;
let maxLatency = 0;
let duplicates = 0;
let gaps = 0;

function receipt(client: number, key: number, at: number, publishedAt: number): void {
  received++;
  const pending = commits.get(key);
  if (!pending) {
    const list = early.get(key);
    if (list) list.push([client, at, publishedAt]);
    else early.set(key, [[client, at, publishedAt]]);
    return;
  }
  const latency = at - pending.at;
  latencies.push(latency);
  if (latency > maxLatency) maxLatency = latency;
  if (client === 0 && Number.isFinite(publishedAt)) {
    toPublished.push(publishedAt - pending.at);
    fromPublished.push(at - publishedAt);
  }
  if (--pending.remaining <= 0) commits.delete(key);
}

function onEnvelopes(client: number, events: OrderEvent[]): void {
  const at = clockMs();
  for (const e of events) {
    const last = lastPosition[client]!;
    if (e.position <= last) duplicates++;
    else if (last > 0 && e.position > last + 1) gaps++;
    lastPosition[client] = Math.max(last, e.position);
    if (e.order_id === null || e.version === null) continue;
    const publishedAt = client === 0 && e.published_at ? Date.parse(e.published_at) : Number.NaN;
    receipt(client, eventKey(e.order_id, e.version), at, publishedAt);
  }
}

function onCommits({ keys, times }: CommitBatch): void {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    commits.set(key, { at: times[i]! + offsetMs, remaining: sockets.length });
    commitOrder.push(key);
    const list = early.get(key);
    if (list) {
      early.delete(key);
      for (const [client, at, publishedAt] of list) receipt(client, key, at, publishedAt);
      received -= list.length; // counted when they arrived
    }
  }
}

function connectOne(url: string, mode: FleetMode, index: number): Promise<void> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  sockets[index] = socket;
  lastPosition[index] = 0;
  socket.on('disconnect', () => disconnects++);
  if (mode === 'envelope') socket.on('events', (events: OrderEvent[]) => onEnvelopes(index, events));
  else
    socket.on('order', (row: { id: number; version: number }) =>
      receipt(index, eventKey(row.id, row.version), clockMs(), Number.NaN),
    );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`client ${index} not live after ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    const live = (position?: number) => {
      clearTimeout(timer);
      if (position !== undefined) lastPosition[index] = position;
      resolve();
    };
    if (mode === 'envelope') socket.once('ready', (info: { position: number }) => live(info.position));
    else socket.once('connect', () => live());
    socket.once('connect_error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function connectAll(url: string, count: number, mode: FleetMode): Promise<void> {
  for (let i = 0; i < count; i += CONNECT_WAVE) {
    const wave = [];
    for (let j = i; j < Math.min(count, i + CONNECT_WAVE); j++) wave.push(connectOne(url, mode, j));
    await Promise.all(wave);
  }
}

function status(): FleetStatus {
  while (orderHead < commitOrder.length && !commits.has(commitOrder[orderHead]!)) orderHead++;
  if (orderHead > 100_000) {
    commitOrder.splice(0, orderHead);
    orderHead = 0;
  }
  const oldest = commits.get(commitOrder[orderHead]!);
  return {
    connected: sockets.filter((s) => s.connected).length,
    disconnects,
    received,
    pending: commits.size,
    oldestPendingMs: oldest ? clockMs() - oldest.at : 0,
    maxLatencyMs: maxLatency,
  };
}

function collect(): FleetWindow {
  const window: FleetWindow = {
    status: status(),
    latencies: latencies.take(),
    toPublished: toPublished.take(),
    fromPublished: fromPublished.take(),
    unknown: [...early.values()].reduce((n, list) => n + list.length, 0),
    duplicates,
    gaps,
  };
  early.clear();
  [latencies, toPublished, fromPublished] = [new Samples(), new Samples(), new Samples()];
  received = 0;
  maxLatency = 0;
  duplicates = 0;
  gaps = 0;
  return window;
}

async function handle(request: FleetRequest): Promise<unknown> {
  switch (request.type) {
    case 'connect':
      return connectAll(request.url, request.count, request.mode);
    case 'ping':
      return clockMs();
    case 'clock':
      offsetMs = request.offsetMs;
      return undefined;
    case 'status':
      return status();
    case 'collect':
      return collect();
    case 'close':
      for (const s of sockets) s.disconnect();
      setImmediate(() => process.exit(0));
      return undefined;
  }
}

process.on('message', (message: FleetRequest | CommitBatch) => {
  if (message.type === 'commits') return onCommits(message);
  handle(message).then(
    (value) => process.send!({ id: message.id, ok: true, value } satisfies FleetReply),
    (e: unknown) => process.send!({ id: message.id, ok: false, error: String(e) } satisfies FleetReply),
  );
});
process.on('disconnect', () => process.exit(0));
