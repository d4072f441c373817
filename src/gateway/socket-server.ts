// The Socket.IO server: handshake (token, `since`, filter), resume, subscribe, slow clients.
//
// Resume without gap or duplicate: a client with `since` is not in any live room while it
// replays. It reads (since, fanout.head] — from memory when it reaches back far enough, else from
// the change log in pages — and repeats until it has caught up with the fanout's head; then, in
// the same tick, it joins its live room and gets `ready`. Every later broadcast is past that head.

import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { OrderEvent } from '../contract/events.js';
import {
  type ClientToServerEvents,
  describeIssue,
  type EventFilter,
  eventFilterSchema,
  handshakeAuthSchema,
  matchesFilter,
  type ServerToClientEvents,
  SOCKET_PATH,
} from '../contract/socket.js';
import { toError } from '../lib/errors.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';
import type { Fanout } from './fanout.js';
import type { GatewayMetrics } from './metrics.js';

interface ClientData {
  filter?: EventFilter;
  room?: string;
  actor?: string;
}

type SubscribeReply = { ok: boolean; error?: string };
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ClientData>;
export type OrdersServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  ClientData
>;

export interface LogReader {
  /** Positioned events in [from, to], ascending. */
  range(from: number, to: number): Promise<OrderEvent[]>;
  /** The last position the bridge handed out. */
  lastPosition(): Promise<number>;
}

export interface SocketServerOptions {
  /** Verifies a handshake token; absent when no tokens are configured (everyone may connect). */
  verifyToken?: (token: string | undefined) => { name: string } | null;
  /** A client whose unsent packets pass this is disconnected (it can resume). */
  maxBufferedPackets: number;
  log: Logger;
  metrics: GatewayMetrics;
}

/** Replay reads this many events from the log per query. */
const REPLAY_PAGE = 1_000;
/** How long a client that is ahead of this gateway waits for it before being told to resync. */
const AHEAD_WAIT_MS = 5_000;
/** How often unsent buffers are checked. */
const SLOW_CHECK_MS = 250;

export function createSocketServer(httpServer: HttpServer, log: Logger): OrdersServer {
  const io: OrdersServer = new Server(httpServer, {
    path: SOCKET_PATH,
    serveClient: false,
    // Clients send only `subscribe`: a small limit keeps a hostile client from costing memory.
    maxHttpBufferSize: 64 * 1024,
  });
  io.engine.on('connection_error', (err: { code: number; message: string }) =>
    log.debug({ code: err.code, message: err.message }, 'engine.io connection error'),
  );
  return io;
}

export function attachHandlers(
  io: OrdersServer,
  fanout: Fanout,
  reader: LogReader,
  options: SocketServerOptions,
): () => void {
  const { log, metrics, verifyToken, maxBufferedPackets } = options;

  io.use((socket, next) => {
    const parsed = handshakeAuthSchema.safeParse(socket.handshake.auth ?? {});
    if (!parsed.success)
      return next(clientError(`invalid handshake auth: ${describeIssue(parsed.error)}`, 400));
    if (verifyToken) {
      const who = verifyToken(parsed.data.token);
      if (!who) return next(clientError('unauthorized: a valid token is required (auth.token)', 401));
      socket.data.actor = who.name;
    }
    socket.data.filter = parsed.data.filter;
    next();
  });

  io.on('connection', (socket) => {
    metrics.clients.inc();
    socket.on('disconnect', () => metrics.clients.dec());
    // Untyped on purpose: a client may send anything. The ack is the last argument when it is a
    // function; every other shape is answered, never left hanging.
    (socket as unknown as Socket).on('subscribe', (...args: unknown[]) => {
      const ack =
        typeof args.at(-1) === 'function' ? (args.pop() as (reply: SubscribeReply) => void) : undefined;
      const reply = answerSubscribe(socket, args);
      ack?.(reply);
    });
    const since = (socket.handshake.auth as { since?: number }).since;
    if (since === undefined) {
      join(socket);
      socket.emit('ready', { position: fanout.head });
      return;
    }
    void resume(socket, since).catch((e: unknown) => {
      log.warn({ err: toError(e), since }, 'replay failed; client disconnected to retry');
      socket.disconnect(true);
    });
  });

  function answerSubscribe(socket: ClientSocket, args: unknown[]): SubscribeReply {
    const [request] = args;
    if (args.length !== 1 || typeof request !== 'object' || request === null || Array.isArray(request)) {
      return { ok: false, error: 'invalid subscribe: send one object, { filter?: { status?, order_id? } }' };
    }
    const parsed = eventFilterSchema.optional().safeParse((request as { filter?: unknown }).filter);
    if (!parsed.success) return { ok: false, error: `invalid filter: ${describeIssue(parsed.error)}` };
    socket.data.filter = parsed.data;
    if (socket.data.room) join(socket);
    return { ok: true };
  }

  function join(socket: ClientSocket): void {
    const room = fanout.roomFor(socket.data.filter);
    if (socket.data.room && socket.data.room !== room) void socket.leave(socket.data.room);
    socket.data.room = room;
    void socket.join(room);
  }

  async function resume(socket: ClientSocket, since: number): Promise<void> {
    const waited = await waitUntilReached(since, socket);
    if (!waited)
      return resync(
        socket,
        since > (await reader.lastPosition()) ? 'position unknown' : 'position ahead of this server',
      );
    let cursor = since;
    let fromLog = false;
    while (socket.connected && cursor < fanout.head) {
      const memory = fanout.recent(cursor);
      const page = memory ?? (await reader.range(cursor + 1, Math.min(cursor + REPLAY_PAGE, fanout.head)));
      if (!memory) fromLog = true;
      if (page.length === 0 || page[0]!.position !== cursor + 1)
        return resync(socket, 'position older than retention');
      send(socket, page);
      cursor = page.at(-1)!.position;
    }
    if (!socket.connected) return;
    // cursor === fanout.head here, and nothing can be broadcast before join() returns.
    join(socket);
    metrics.replays.inc({ source: fromLog ? 'log' : 'memory' });
    socket.emit('ready', { position: cursor });
  }

  async function waitUntilReached(since: number, socket: ClientSocket): Promise<boolean> {
    const deadline = Date.now() + AHEAD_WAIT_MS;
    while (fanout.head < since && socket.connected) {
      if (Date.now() > deadline || since > (await reader.lastPosition())) return false;
      await delay(10);
    }
    return true;
  }

  function send(socket: ClientSocket, events: OrderEvent[]): void {
    for (let i = 0; i < events.length; i += 500) {
      const selected = events.slice(i, i + 500).filter((e) => matchesFilter(e, socket.data.filter));
      if (selected.length > 0) {
        socket.emit('events', selected);
        metrics.emitted.inc(selected.length);
      }
    }
  }

  function resync(socket: ClientSocket, reason: string): void {
    metrics.resyncs.inc({ reason });
    socket.emit('resync', { reason });
    socket.disconnect(true);
  }

  // Socket.IO queues packets per client without bound; a client that stops reading would grow
  // without limit and, through memory, slow everyone. Its packets wait in engine.io's writeBuffer.
  const slowCheck = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const buffered = (socket.conn as unknown as { writeBuffer?: unknown[] }).writeBuffer?.length ?? 0;
      if (buffered > maxBufferedPackets) {
        log.warn({ id: socket.id, buffered }, 'slow client disconnected; it can resume with since');
        metrics.slowDisconnects.inc();
        socket.disconnect(true);
      }
    }
  }, SLOW_CHECK_MS);
  return () => clearInterval(slowCheck);
}

function clientError(message: string, status: number): Error {
  const err = new Error(message) as Error & { data: { status: number } };
  err.data = { status };
  return err;
}
