// `orders-live tail`: live events in the terminal through a gateway, one line each (or JSON
// lines), resumable with --since; it reconnects by itself and resumes where it stopped.

import { io, type Socket } from 'socket.io-client';
import { ORDER_STATUSES, type OrderStatus } from '../contract/events.js';
import type { ClientToServerEvents, HandshakeAuth, ServerToClientEvents } from '../contract/socket.js';
import { formatEvent } from './event-line.js';

export interface TailOptions {
  url: string;
  since?: number;
  status?: OrderStatus[];
  json: boolean;
  token?: string;
  colour: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Validates --status: a comma-separated list of the five statuses. */
export function parseStatuses(raw: string): OrderStatus[] | string {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !ORDER_STATUSES.includes(s as OrderStatus));
  if (list.length === 0 || bad.length > 0) return `--status takes ${ORDER_STATUSES.join(', ')}; got "${raw}"`;
  return list as OrderStatus[];
}

/** Runs until the signal aborts; resolves with the exit code. */
export function tail(options: TailOptions, signal: AbortSignal): Promise<number> {
  let position = options.since;
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(options.url, {
    transports: ['websocket'],
    // A function, so every reconnect resumes from the last position printed.
    auth: (cb) => {
      const auth: HandshakeAuth = {};
      if (position !== undefined) auth.since = position;
      if (options.status) auth.filter = { status: options.status };
      if (options.token) auth.token = options.token;
      cb(auth as Record<string, unknown>);
    },
  });
  return new Promise((resolve) => {
    const finish = (code: number) => {
      socket.disconnect();
      resolve(code);
    };
    signal.addEventListener('abort', () => finish(0), { once: true });
    socket.on('events', (events) => {
      for (const event of events) {
        options.out(options.json ? JSON.stringify(event) : formatEvent(event, options.colour));
        position = event.position;
      }
    });
    socket.on('ready', ({ position: at }) => {
      position = Math.max(position ?? 0, at);
      options.err(`live at position ${at} (${options.url})`);
    });
    socket.on('resync', ({ reason }) => {
      options.err(`cannot resume from ${position}: ${reason}; continuing live from now`);
      position = undefined; // the server disconnects; the disconnect handler reconnects live
    });
    socket.on('disconnect', (reason) => {
      if (!signal.aborted) options.err(`disconnected (${reason}); reconnecting from ${position ?? 'now'}`);
      if (reason === 'io server disconnect') socket.connect();
    });
    socket.on('connect_error', (err) => {
      // A refusal by the server (bad token, bad filter) will not get better by retrying.
      if ((err as Error & { data?: unknown }).data) {
        options.err(`refused: ${err.message}`);
        finish(1);
      } else {
        options.err(`cannot connect to ${options.url} (${err.message}); retrying`);
      }
    });
  });
}
