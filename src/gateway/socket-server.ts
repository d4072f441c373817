// The Socket.IO server: handshake (token, `since`, filter), resume, subscribe, slow clients.
//
// Resume without gap or duplicate: a client with `since` is not in any live room while it
// replays. It reads (since, fanout.head] — from memory when it reaches back far enough, else from
// the change log in pages — and repeats until it has caught up with the fanout's head; then, in
// the same tick, it joins its live room and gets `ready`. Every later broadcast is past that head.
// A `since` of another history (invariant 9) — above what the client's epoch shares with the
// log's, or above a fork the stream took while the client replayed — gets `resync` instead.

import type { Server as HttpServer, IncomingMessage } from 'node:http';
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
import type { Logger } from '../log.js';
import { bufferedBytes, type Drain, whenDrained } from './client-buffer.js';
import type { Epochs } from './epochs.js';
import { type Fanout, type LiveRooms, MAX_BATCH } from './fanout.js';
import type { HeadWatch } from './head-watch.js';
import type { GatewayMetrics } from './metrics.js';
import { createResume } from './resume.js';

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
}

export interface SocketServerOptions {
  /** Verifies a handshake token; absent when no tokens are configured (everyone may connect). */
  verifyToken?: (token: string | undefined) => { name: string } | null;
  /** A client whose unsent bytes pass this is disconnected (it can resume). */
  maxBufferedBytes: number;
  /** Where a client ahead of this gateway waits for it (one watch for all of them). */
  headWatch: HeadWatch;
  log: Logger;
  metrics: GatewayMetrics;
  /**
   * The log's epochs, and how to read them again when a client names one not known yet (its
   * gateway learnt it first). Absent, a handshake's epoch is ignored.
   */
  epochs?: { known: Epochs; learn(): Promise<void> };
}

/**
 * A replay packet waits until the client's unsent bytes are below this: one packet of 500 events
 * is ~200–300 KB, so a client that never reads holds about one packet, not the log.
 */
const REPLAY_LOW_WATER_BYTES = 64 * 1024;
/** A replaying client that takes nothing for this long is disconnected (it can resume). */
const REPLAY_STALL_MS = 60_000;
/** How often unsent buffers are checked. */
const SLOW_CHECK_MS = 250;

/** Why a handshake request is refused (its Host or browser Origin), or null to admit it. */
export type AdmitRequest = (req: IncomingMessage) => string | null;

export function createSocketServer(httpServer: HttpServer, log: Logger, admit?: AdmitRequest): OrdersServer {
  const io: OrdersServer = new Server(httpServer, {
    path: SOCKET_PATH,
    serveClient: false,
    // Asked for every new connection, long polling and websocket alike, before any packet.
    allowRequest: admit
      ? (req, callback) => {
          const refusal = admit(req);
          callback(refusal ?? '', refusal === null);
        }
      : undefined,
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
  const { log, metrics, verifyToken, maxBufferedBytes, epochs } = options;
  /** The epoch `ready` names: the one the head belongs to. */
  const epochNow = () => (epochs && epochs.known.current > 0 ? { epoch: epochs.known.current } : {});

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
    const { since, epoch } = socket.handshake.auth as { since?: number; epoch?: number };
    if (since === undefined) {
      join(socket);
      socket.emit('ready', { position: fanout.head, ...epochNow() });
      return;
    }
    void resumeIfShared(socket, since, epoch).catch((e: unknown) => {
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

  /** Resumes a client whose `since` belongs to the log's history; resyncs one whose does not. */
  async function resumeIfShared(
    socket: ClientSocket,
    since: number,
    epoch: number | undefined,
  ): Promise<void> {
    if (epochs && epoch !== undefined) {
      // Newer than this gateway knows: another gateway learnt it first (an older unknown one is no
      // history of this log).
      if (epoch > epochs.known.current) await epochs.learn();
      const shared = epochs.known.sharedWith(epoch);
      if (since > shared) {
        const current = epochs.known.current;
        return resync(
          socket,
          `position ${since} of epoch ${epoch} is not in the log's epoch ${current}`,
          'epoch',
        );
      }
    }
    await resume(socket, since);
  }

  async function resume(socket: ClientSocket, since: number): Promise<void> {
    const replay = createResume(since);
    let fromLog = false;
    let action = replay.next(fanout);
    const forks = fanout.forks;
    while (socket.connected) {
      // The stream forked while this client replayed: what it was sent above the fork is gone.
      const fork = fanout.forkedSince(forks);
      if (fork !== null && replay.cursor > fork) {
        return resync(socket, `the change log went back to position ${fork} (another history)`, 'epoch');
      }
      switch (action.type) {
        case 'ahead': {
          const outcome = await options.headWatch.wait(action.since, () => !socket.connected);
          if (outcome === 'gone') return;
          if (outcome !== 'reached') return resync(socket, outcome);
          break;
        }
        case 'send':
          if ((await send(socket, action.events)) !== 'drained') return;
          break;
        case 'read':
          fromLog = true;
          action = replay.readDone(await reader.range(action.from, action.to));
          continue;
        case 'resync':
          return resync(socket, action.reason);
        case 'live':
          // No await since next() compared the cursor with the head: nothing was broadcast between.
          join(socket);
          metrics.replays.inc({ source: fromLog ? 'log' : 'memory' });
          socket.emit('ready', { position: action.position, ...epochNow() });
          return;
      }
      action = replay.next(fanout);
    }
  }

  /**
   * Sends replayed events in packets of MAX_BATCH, each only once the client has taken the one
   * before: a client that does not read holds one packet of memory, not the whole log.
   */
  async function send(socket: ClientSocket, events: OrderEvent[]): Promise<Drain> {
    for (let i = 0; i < events.length; i += MAX_BATCH) {
      const selected = events.slice(i, i + MAX_BATCH).filter((e) => matchesFilter(e, socket.data.filter));
      if (selected.length === 0) continue;
      socket.emit('events', selected);
      metrics.emitted.inc(selected.length);
      const outcome = await whenDrained(socket, REPLAY_LOW_WATER_BYTES, REPLAY_STALL_MS);
      if (outcome === 'stalled') {
        log.warn({ id: socket.id }, 'client stopped reading during replay; disconnected (it can resume)');
        metrics.slowDisconnects.inc();
        socket.disconnect(true);
      }
      if (outcome !== 'drained') return outcome;
    }
    return 'drained';
  }

  function resync(socket: ClientSocket, reason: string, metric = reason): void {
    metrics.resyncs.inc({ reason: metric });
    socket.emit('resync', { reason });
    socket.disconnect(true);
  }

  // Socket.IO queues packets per client without bound; a client that stops reading would grow
  // without limit and, through memory, slow everyone. Its bytes wait in engine.io's writeBuffer
  // and the websocket's send buffer.
  const slowCheck = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const buffered = bufferedBytes(socket);
      if (buffered > maxBufferedBytes) {
        log.warn({ id: socket.id, buffered }, 'slow client disconnected; it can resume with since');
        metrics.slowDisconnects.inc();
        socket.disconnect(true);
      }
    }
  }, SLOW_CHECK_MS);
  return () => clearInterval(slowCheck);
}

/** The fanout's view of Socket.IO's rooms; a room left empty is forgotten by the fanout. */
export function socketRooms(io: OrdersServer, forget: (room: string) => void): LiveRooms {
  const nsp = io.of('/');
  nsp.adapter.on('delete-room', forget);
  return {
    size: (room) => nsp.adapter.rooms.get(room)?.size ?? 0,
    emit: (room, events) => void nsp.to(room).emit('events', events),
    resync(room, reason) {
      nsp.to(room).emit('resync', { reason });
      nsp.in(room).disconnectSockets(true);
    },
  };
}

function clientError(message: string, status: number): Error {
  const err = new Error(message) as Error & { data: { status: number } };
  err.data = { status };
  return err;
}
