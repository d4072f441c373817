// The HTTP listener as a Service: listens on start; on stop refuses new connections, lets
// in-flight requests finish, and after a deadline cuts whatever is still open. Refusing is a
// phase of its own (`refuseNew`), so a process whose other roles stop first (the gateway shares
// this server) stops taking requests at the signal, not only when the HTTP role's turn comes.

import http, { type RequestListener, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Service } from '../lib/service.js';
import type { Logger } from '../log.js';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; `address()` tells which. */
  port: number;
  log: Logger;
  /**
   * How long in-flight requests may take to finish, counted from when new ones were refused
   * (refuseNew(), or stop() when it comes first). @default 5000
   */
  closeDeadlineMs?: number;
}

export interface HttpServer extends Service {
  /** The node server, for what shares the port (Socket.IO attaches to it; stop that first). */
  readonly server: http.Server;
  /** The bound address; throws before start(). */
  address(): AddressInfo;
  /** Where to reach it once started, e.g. `http://127.0.0.1:3000` (a wildcard host shows as localhost). */
  url(): string;
  /**
   * The first phase of stop(), returning at once: stops listening (new connections are refused),
   * closes idle keep-alive connections, and answers every response not yet started with
   * `Connection: close`. A request already on its way over an open connection is served as in
   * flight (with `Connection: close`); stop() bounds it by the deadline. Idempotent.
   */
  refuseNew(): void;
  /** refuseNew(), then waits for in-flight requests until the close deadline and cuts the rest. */
  stop(): Promise<void>;
}

export function createHttpServer(handler: RequestListener, options: HttpServerOptions): HttpServer {
  const { host, port, log, closeDeadlineMs = 5_000 } = options;
  const server = http.createServer();
  const inFlight = new Set<http.ServerResponse>();
  let closing = false;
  /** Resolves when every connection has ended; set by refuseNew(). */
  let closed: Promise<void> | undefined;
  let refusedAt = 0;
  let stopping: Promise<void> | undefined;

  // Registered before the app: a response started after refuseNew() tells the client to go away.
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight.add(res);
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      // A keep-alive connection whose last request just ended is idle now: close it.
      if (closing) server.closeIdleConnections();
    });
  });
  server.on('request', handler);
  server.on('clientError', answerUnparseable);

  return {
    name: 'http',
    server,
    address,
    url,
    refuseNew,
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      log.info({ url: url() }, 'listening');
    },
    stop() {
      stopping ??= drain();
      return stopping;
    },
  };

  function address(): AddressInfo {
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('the HTTP server is not listening');
    return bound;
  }

  function url(): string {
    const { address: ip, family, port: bound } = address();
    const shown = family === 'IPv6' ? `[${ip}]` : ip;
    return `http://${shown === '0.0.0.0' || shown === '[::]' ? 'localhost' : shown}:${bound}`;
  }

  function refuseNew(): void {
    if (closing || !server.listening) return;
    closing = true;
    refusedAt = Date.now();
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    log.info({ inFlight: inFlight.size }, 'refusing new connections');
  }

  async function drain(): Promise<void> {
    refuseNew();
    if (!closed) return; // never started
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), Math.max(0, refusedAt + closeDeadlineMs - Date.now()));
    });
    if ((await Promise.race([closed, deadline])) === 'deadline') {
      log.warn({ open: inFlight.size, closeDeadlineMs }, 'requests still open at the deadline: closing them');
      server.closeAllConnections();
      // Not awaiting `closed` again: upgraded sockets (websockets) still count as connections,
      // and only their owner (Socket.IO, stopped before this) can close them.
    }
    clearTimeout(timer);
  }
}

/**
 * Requests Node's parser refuses (an unknown method, headers or a URL too large) never reach the
 * app; they still get a problem document, then the connection is closed.
 */
function answerUnparseable(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify({
    type: 'about:blank',
    title: STATUS_CODES[status],
    status,
    detail: tooLarge
      ? 'the request line or headers are too large'
      : `the request could not be parsed (${err.code ?? 'bad request'})`,
    code: tooLarge ? 'headers_too_large' : 'bad_request',
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
