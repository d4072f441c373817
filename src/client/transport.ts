// The link to one gateway: a socket.io-client socket that never reconnects by itself (the session
// decides when and where to), reporting the contract's events and how it ended. Replaceable: the
// unit tests pass a fake transport.

import { io, type Socket } from 'socket.io-client';
import type { OrderEvent } from '../contract/events.js';
import type {
  ClientToServerEvents,
  EventFilter,
  HandshakeAuth,
  ServerToClientEvents,
} from '../contract/socket.js';

export interface LinkHandlers {
  open(): void;
  events(events: OrderEvent[]): void;
  /** Live at `position`, of the log's `epoch` (absent from gateways before epochs). */
  ready(position: number, epoch?: number): void;
  resync(reason: string): void;
  /** The link closed, or never opened; `refusal` when the gateway refused the handshake. */
  lost(reason: string, refusal?: { status: number; message: string }): void;
}

export interface Link {
  /** Closes the link; no handler is called after. */
  close(): void;
  /** Replaces the filter for the next events (the `subscribe` message). */
  subscribe(filter: EventFilter | undefined): Promise<void>;
}

export interface LinkRequest {
  url: string;
  /** socket.io's path on that server. */
  path: string;
  auth: HandshakeAuth;
}

export type Transport = (request: LinkRequest, handlers: LinkHandlers) => Link;

/** How long `subscribe` waits for the gateway's acknowledgement. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

export const socketTransport: Transport = ({ url, path, auth }, handlers) => {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    path,
    // WebSocket only: no long-polling phase, no sticky sessions behind a load balancer.
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: auth as Record<string, unknown>,
  });
  socket.on('connect', () => handlers.open());
  socket.on('events', (events) => handlers.events(events));
  socket.on('ready', ({ position, epoch }) => handlers.ready(position, epoch));
  socket.on('resync', ({ reason }) => handlers.resync(reason));
  socket.on('disconnect', (reason) => handlers.lost(reason));
  socket.on('connect_error', (err) => {
    const status = (err as Error & { data?: { status?: unknown } }).data?.status;
    handlers.lost(err.message, typeof status === 'number' ? { status, message: err.message } : undefined);
  });
  return {
    close() {
      socket.removeAllListeners();
      socket.disconnect();
    },
    subscribe(filter) {
      return new Promise((resolve, reject) => {
        socket.timeout(SUBSCRIBE_TIMEOUT_MS).emit('subscribe', { filter }, (err, reply) => {
          if (err) reject(err);
          else if (!reply.ok) reject(new Error(reply.error ?? 'subscribe refused'));
          else resolve();
        });
      });
    },
  };
};
