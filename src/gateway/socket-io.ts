// Socket.IO as the gateway uses it: the server on the shared HTTP server (Host and Origin admitted
// per request), the handshake's auth (token, `since`, filter, epoch), the policing of clients that
// stop reading, and the fanout's view of the rooms. The per-client protocol — subscribe, resume,
// `ready` — is socket-server.ts.

import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import {
  type ClientToServerEvents,
  describeIssue,
  type EventFilter,
  handshakeAuthSchema,
  type ServerToClientEvents,
  SOCKET_PATH,
} from '../contract/socket.js';
import type { Logger } from '../log.js';
import { bufferedBytes } from './client-buffer.js';
import type { LiveRooms } from './fanout.js';
import type { GatewayMetrics } from './metrics.js';

export interface ClientData {
  filter?: EventFilter;
  room?: string;
  actor?: string;
}

export type ClientSocket = Socket<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  ClientData
>;
export type OrdersServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  Record<string, never>,
  ClientData
>;

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

/**
 * Refuses a handshake whose auth does not parse (400) or whose token `verifyToken` does not know
 * (401); keeps the caller's name and filter on the socket.
 */
export function authenticate(
  io: OrdersServer,
  verifyToken?: (token: string | undefined) => { name: string } | null,
): void {
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
}

/**
 * Socket.IO queues packets per client without bound; a client that stops reading would grow
 * without limit and, through memory, slow everyone. Its bytes wait in engine.io's writeBuffer and
 * the websocket's send buffer: past `maxBufferedBytes` it is disconnected (it can resume).
 */
export function policeSlowClients(
  io: OrdersServer,
  maxBufferedBytes: number,
  log: Logger,
  metrics: Pick<GatewayMetrics, 'slowDisconnects'>,
): () => void {
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
