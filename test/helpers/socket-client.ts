// A real socket.io-client that records what it receives, for assertions.

import { io, type Socket } from 'socket.io-client';
import type { OrderEvent } from '../../src/contract/events.js';
import type { ClientToServerEvents, HandshakeAuth, ServerToClientEvents } from '../../src/contract/socket.js';
import { waitFor } from './wait.js';

export interface TestClient {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  readonly events: OrderEvent[];
  readonly ready: { position: number; epoch?: number }[];
  readonly resyncs: { reason: string }[];
  readonly errors: Error[];
  positions(): number[];
  waitReady(timeoutMs?: number): Promise<number>;
  /** Waits until the client has received `position`. */
  waitPosition(position: number, timeoutMs?: number): Promise<void>;
  close(): void;
}

export function connectClient(
  url: string,
  auth: HandshakeAuth = {},
  options: { reconnection?: boolean } = {},
): TestClient {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    auth: auth as Record<string, unknown>,
    transports: ['websocket'],
    reconnection: options.reconnection ?? false,
    forceNew: true,
  });
  const client: TestClient = {
    socket,
    events: [],
    ready: [],
    resyncs: [],
    errors: [],
    positions: () => client.events.map((e) => e.position),
    async waitReady(timeoutMs = 10_000) {
      await waitFor(() => client.ready.length > 0 || client.errors.length > 0, { timeoutMs, what: 'ready' });
      if (client.ready.length === 0) throw client.errors[0]!;
      return client.ready[0]!.position;
    },
    async waitPosition(position, timeoutMs = 20_000) {
      await waitFor(() => (client.events.at(-1)?.position ?? 0) >= position, {
        timeoutMs,
        what: `position ${position} (at ${client.events.at(-1)?.position ?? 'none'})`,
      });
    },
    close() {
      socket.disconnect();
    },
  };
  socket.on('events', (batch) => client.events.push(...batch));
  socket.on('ready', (info) => client.ready.push(info));
  socket.on('resync', (info) => client.resyncs.push(info));
  socket.on('connect_error', (err) => client.errors.push(err));
  return client;
}

/** from, from + 1, …, to. */
export function span(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
