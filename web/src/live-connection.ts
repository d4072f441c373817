// The stream half of "snapshot meets stream": a socket.io-client that resumes after the last
// position it saw on every (re)connect, reports its state, and hands `resync` to the caller.
// It never reloads the page; a refused handshake (401, bad auth) waits for reconnect().

import { io, type Socket } from 'socket.io-client';
import type { OrderEvent } from '../../src/contract/events.js';
import type { ClientToServerEvents, HandshakeAuth, ServerToClientEvents } from '../../src/contract/socket.js';
import { SOCKET_PATH } from './contract-values.js';

export type ConnectionState =
  /** First connection, or the snapshot is loading. */
  | 'connecting'
  /** Connected; the gateway is sending what happened after our position. */
  | 'replaying'
  /** Caught up (`ready`); events arrive as they happen. */
  | 'live'
  /** The link dropped; socket.io-client retries with backoff and resumes after our position. */
  | 'reconnecting'
  /** The gateway cannot serve our position: the snapshot is being reloaded. */
  | 'resyncing'
  /** The handshake needs a valid token (API_TOKENS is set on the server). */
  | 'unauthorized'
  /** The server cannot read our handshake (400); see the detail. */
  | 'refused';

export interface LiveConnectionOptions {
  /** The gateway's origin; the page's own when absent. */
  url?: string;
  /** Read at every (re)connect, so each one sends the current position (`since`) and token. */
  auth: () => HandshakeAuth;
  onEvents: (events: OrderEvent[]) => void;
  onReady: (position: number) => void;
  /** Reload the snapshot, then call reconnect(). */
  onResync: (reason: string) => void;
  onState: (state: ConnectionState, detail?: string) => void;
}

export interface LiveConnection {
  start(): void;
  /** Connects again now: after a resync's snapshot, or when the token changed. */
  reconnect(): void;
  stop(): void;
}

type OrdersSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 5_000;

export function createLiveConnection(options: LiveConnectionOptions): LiveConnection {
  const { onState } = options;
  const flags = { resyncing: false, stopped: false };
  const socket: OrdersSocket = io(options.url ?? '', {
    path: SOCKET_PATH,
    autoConnect: false,
    // WebSocket only: no long-polling phase to upgrade from, and no sticky sessions needed
    // behind a load balancer (docs/design.md, "Scaling out").
    transports: ['websocket'],
    // Retry after 0.5 s, 1 s, 2 s, 4 s, then every 5 s (±50 % jitter) for as long as it takes.
    reconnectionDelay: RETRY_BASE_MS,
    reconnectionDelayMax: RETRY_MAX_MS,
    auth: (cb) => cb(options.auth() as Record<string, unknown>),
  });
  const retry = createRefusalRetry(() => {
    if (!flags.stopped && !socket.connected && !socket.active) socket.connect();
  });

  wireStream(socket, options, flags, retry);
  socket.on('disconnect', (reason) => {
    // 'io client disconnect' is ours: stop(), or reconnect() which connects again at once.
    if (flags.stopped || flags.resyncing || reason === 'io client disconnect') return;
    onState('reconnecting', reason);
    // The server hung up on purpose (a slow client, a gateway stopping): socket.io-client does
    // not retry that by itself, but resuming after our position is always safe.
    if (reason === 'io server disconnect') socket.connect();
  });
  socket.on('connect_error', (err) => {
    if (flags.stopped) return;
    if (socket.active) return onState('reconnecting', err.message);
    // Refused by the gateway's middleware, which socket.io-client never retries by itself. A
    // missing token (401) or a handshake the server cannot read (400) needs a change on our side;
    // anything else ("server starting, retry" while a gateway boots) passes: try again.
    const status = (err as Error & { data?: { status?: number } }).data?.status;
    if (status === 401 || status === 400)
      return onState(status === 401 ? 'unauthorized' : 'refused', err.message);
    onState('reconnecting', err.message);
    retry.later();
  });

  return {
    start() {
      onState('connecting');
      socket.connect();
    },
    reconnect() {
      if (flags.stopped) return;
      flags.resyncing = false;
      retry.cancel();
      socket.disconnect();
      onState('connecting');
      socket.connect();
    },
    stop() {
      flags.stopped = true;
      retry.cancel();
      socket.disconnect();
    },
  };
}

/** What the gateway sends: events and `ready` go to the caller, `resync` pauses reconnecting. */
function wireStream(
  socket: OrdersSocket,
  options: LiveConnectionOptions,
  flags: { resyncing: boolean },
  retry: RefusalRetry,
): void {
  socket.on('connect', () => {
    retry.reset();
    options.onState('replaying');
  });
  socket.on('events', (events) => options.onEvents(events));
  socket.on('ready', ({ position }) => {
    options.onReady(position);
    options.onState('live');
  });
  socket.on('resync', ({ reason }) => {
    flags.resyncing = true;
    options.onState('resyncing', reason);
    options.onResync(reason);
  });
}

interface RefusalRetry {
  /** Connects again after 0.5 s, 1 s, 2 s, 4 s, then every 5 s, like socket.io-client's own retries. */
  later(): void;
  reset(): void;
  cancel(): void;
}

function createRefusalRetry(connect: () => void): RefusalRetry {
  let attempts = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    later() {
      clearTimeout(timer);
      timer = setTimeout(connect, Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempts));
      attempts += 1;
    },
    reset() {
      attempts = 0;
    },
    cancel() {
      clearTimeout(timer);
    },
  };
}
