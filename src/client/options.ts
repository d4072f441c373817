// Where and how to connect, as the application gives it, resolved once.

import { SOCKET_PATH } from '../contract/constants.js';
import { socketTransport, type Transport } from './transport.js';

export interface ConnectOptions {
  /**
   * The gateway, or several, tried in turn: `http://127.0.0.1:3000`. In a browser the page's own
   * origin when absent.
   */
  url?: string | readonly string[];
  /** The token (Bearer), or a function read at every (re)connect and snapshot load. */
  token?: string | (() => string | undefined);
  /** socket.io's path on the gateways. @default '/socket.io' */
  path?: string;
  /** Replaces socket.io-client (tests). */
  transport?: Transport;
  /** Replaces the global fetch (tests, or a runtime without one). */
  fetch?: typeof fetch;
}

export interface ResolvedConnectOptions {
  urls: readonly string[];
  path: string;
  token: () => string | undefined;
  transport: Transport;
  fetch: typeof fetch;
  apiUrls: readonly string[];
}

export function resolveConnectOptions(options: ConnectOptions): ResolvedConnectOptions {
  const urls = listOf(options.url);
  if (urls.length === 0) {
    const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
    if (!origin) throw new TypeError('orders-live/client: `url` is required outside a browser');
    urls.push(origin);
  }
  const token = options.token;
  return {
    urls,
    apiUrls: urls,
    path: options.path ?? SOCKET_PATH,
    token: typeof token === 'function' ? token : () => token,
    transport: options.transport ?? socketTransport,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
}

export function listOf(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return (typeof value === 'string' ? [value] : [...value]).filter((u) => u !== '');
}
