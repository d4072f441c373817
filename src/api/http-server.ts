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
  return new DrainingHttpServer(handler, options);
}

class DrainingHttpServer implements HttpServer {
  readonly name = 'http';
  readonly server = http.createServer();
  readonly #inFlight = new Set<http.ServerResponse>();
  readonly #options: HttpServerOptions;
  #closing = false;
  /** Resolves when every connection has ended; set by refuseNew(). */
  #closed: Promise<void> | undefined;
  #refusedAt = 0;
  #stopping: Promise<void> | undefined;

  constructor(handler: RequestListener, options: HttpServerOptions) {
    this.#options = options;
    // Registered before the app: a response started after refuseNew() tells the client to go away.
    this.server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      this.#inFlight.add(res);
      if (this.#closing) res.setHeader('Connection', 'close');
      res.once('close', () => {
        this.#inFlight.delete(res);
        // A keep-alive connection whose last request just ended is idle now: close it.
        if (this.#closing) this.server.closeIdleConnections();
      });
    });
    this.server.on('request', handler);
    this.server.on('clientError', answerUnparseable);
  }

  async start(): Promise<void> {
    const { server } = this;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#options.log.info({ url: this.url() }, 'listening');
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#drain();
    return this.#stopping;
  }

  address(): AddressInfo {
    const bound = this.server.address();
    if (bound === null || typeof bound === 'string') throw new Error('the HTTP server is not listening');
    return bound;
  }

  url(): string {
    const { address: ip, family, port: bound } = this.address();
    const shown = family === 'IPv6' ? `[${ip}]` : ip;
    return `http://${shown === '0.0.0.0' || shown === '[::]' ? 'localhost' : shown}:${bound}`;
  }

  refuseNew(): void {
    if (this.#closing || !this.server.listening) return;
    this.#closing = true;
    this.#refusedAt = Date.now();
    for (const res of this.#inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    this.#closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.#options.log.info({ inFlight: this.#inFlight.size }, 'refusing new connections');
  }

  async #drain(): Promise<void> {
    this.refuseNew();
    if (!this.#closed) return; // never started
    const { log, closeDeadlineMs = 5_000 } = this.#options;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(
        () => resolve('deadline'),
        Math.max(0, this.#refusedAt + closeDeadlineMs - Date.now()),
      );
    });
    if ((await Promise.race([this.#closed, deadline])) === 'deadline') {
      log.warn(
        { open: this.#inFlight.size, closeDeadlineMs },
        'requests still open at the deadline: closing them',
      );
      this.server.closeAllConnections();
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
