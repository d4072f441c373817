// The soak's socket clients, in a process of their own: clients that keep connecting, resuming
// and leaving, each checking its own stream (lib/soak-check.ts) across all its connections. Most
// follow one order each (an order_id filter, as a detail page would); a few follow the whole
// stream, as a dashboard does. The parent (bench/soak.ts) asks over IPC for a status, for every
// client to come back and catch up ("settle"), and for the final check.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import type { OrderEvent } from '../src/contract/events.js';
import { fullStreamCheck, orderCheck, type StreamCheck } from './lib/soak-check.js';
import type { SoakClientsStatus, SoakReply, SoakRequest, SoakSettleTarget } from './lib/soak-protocol.js';

/** How long a client stays connected, then away, in ms (uniform between the two). */
const STAY_MS: [number, number] = [15_000, 90_000];
const AWAY_MS: [number, number] = [500, 5_000];

interface Client {
  readonly index: number;
  readonly orderId: number | null;
  check: StreamCheck;
  socket: Socket | null;
  timer: NodeJS.Timeout | null;
  connects: number;
  resyncs: number;
}

const clients: Client[] = [];
let gatewayUrls: string[] = [];
let apiUrl = '';
let churning = true;
let leaves = 0;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function between([low, high]: [number, number]): number {
  return low + Math.random() * (high - low);
}

function connect(client: Client): void {
  if (client.socket) return;
  if (client.timer) clearTimeout(client.timer);
  client.timer = null;
  const url = gatewayUrls[(client.index + client.connects) % gatewayUrls.length]!;
  client.connects++;
  const filter = client.orderId === null ? undefined : { order_id: client.orderId };
  const socket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    auth: { since: client.check.since, filter },
  });
  client.socket = socket;
  socket.on('events', (events: OrderEvent[]) => client.check.take(events));
  socket.on('ready', ({ position }: { position: number }) => client.check.ready(position));
  socket.on('resync', () => {
    client.resyncs++;
    leave(client, 0);
    reload(client);
  });
  // A link the gateway or the network closed: come back like a user's browser would.
  socket.on('disconnect', () => {
    if (client.socket === socket) leave(client, between(AWAY_MS));
  });
  socket.on('connect_error', () => {
    if (client.socket === socket) leave(client, between(AWAY_MS));
  });
  if (churning) schedule(client, between(STAY_MS), () => leave(client, between(AWAY_MS)));
}

function leave(client: Client, awayMs: number): void {
  const socket = client.socket;
  client.socket = null;
  if (socket) {
    leaves++;
    socket.removeAllListeners();
    socket.disconnect();
  }
  if (awayMs > 0) schedule(client, awayMs, () => connect(client));
}

function schedule(client: Client, ms: number, fn: () => void): void {
  if (client.timer) clearTimeout(client.timer);
  client.timer = setTimeout(() => {
    client.timer = null;
    fn();
  }, ms);
}

/** The snapshot again; one that cannot be read now is tried again after a while, as a browser would. */
function reload(client: Client): void {
  restartFromSnapshot(client).catch(() => schedule(client, between(AWAY_MS), () => reload(client)));
}

/**
 * What a resync asks for: the snapshot's position (GET /orders), then the stream after it. A
 * client of one order takes the next version it sees as its new start (reading the order apart
 * from the snapshot would race with the writers).
 */
async function restartFromSnapshot(client: Client): Promise<void> {
  const res = await fetch(`${apiUrl}/orders`);
  const position = Number(res.headers.get('x-event-position'));
  await res.body?.cancel();
  client.check.restart(position);
  connect(client);
}

function status(): SoakClientsStatus {
  const sum = (f: (c: Client) => number) => clients.reduce((n, c) => n + f(c), 0);
  const memory = process.memoryUsage();
  const status: SoakClientsStatus = {
    clients: clients.length,
    connected: clients.filter((c) => c.socket?.connected).length,
    connects: sum((c) => c.connects),
    leaves,
    received: sum((c) => c.check.received),
    repeats: sum((c) => c.check.repeats),
    gaps: sum((c) => c.check.gaps),
    resyncs: sum((c) => c.resyncs),
    problems: clients.flatMap((c) => c.check.problems.map((p) => `client ${c.index}: ${p}`)).slice(0, 20),
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  };
  loopDelay.reset();
  return status;
}

/** Every client back and caught up: full-stream ones at `head`, the others at their order's version. */
function settled(target: SoakSettleTarget): number {
  let behind = 0;
  for (const c of clients) {
    if (!c.socket) connect(c);
    const goal = c.orderId === null ? target.head : (target.versions[c.orderId] ?? 0);
    if (c.check.last < goal) behind++;
  }
  return behind;
}

function handle(request: SoakRequest): unknown {
  switch (request.type) {
    case 'start': {
      gatewayUrls = request.gatewayUrls;
      apiUrl = request.apiUrl;
      for (let i = 0; i < request.count; i++) {
        const orderId = i < request.fullStream ? null : request.orderIds[i % request.orderIds.length]!;
        const version = orderId === null ? 0 : (request.versions[orderId] ?? 0);
        const client: Client = {
          index: i,
          orderId,
          check:
            orderId === null ? fullStreamCheck(request.since) : orderCheck(orderId, request.since, version),
          socket: null,
          timer: null,
          connects: 0,
          resyncs: 0,
        };
        clients.push(client);
        // Spread the first connections over a few seconds, as users arrive.
        schedule(client, (i / request.count) * 5_000, () => connect(client));
      }
      return undefined;
    }
    case 'status':
      return status();
    case 'settle':
      churning = false;
      for (const c of clients) if (c.socket && c.timer) clearTimeout(c.timer);
      return settled(request.target);
    case 'close':
      for (const c of clients) {
        if (c.timer) clearTimeout(c.timer);
        c.socket?.disconnect();
      }
      setImmediate(() => process.exit(0));
      return undefined;
  }
}

process.on('message', (request: SoakRequest) => {
  let reply: SoakReply;
  try {
    reply = { id: request.id, ok: true, value: handle(request) };
  } catch (e) {
    reply = { id: request.id, ok: false, error: String(e) };
  }
  process.send?.(reply);
});
process.on('disconnect', () => process.exit(0));
