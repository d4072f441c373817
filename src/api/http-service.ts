// The HTTP server as a Service: listens on start; on stop it refuses new connections, lets the
// requests in flight finish, then closes idle keep-alive sockets. Socket.IO attaches to `server`.

import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Service } from '../lib/service.js';
import type { Logger } from '../log.js';

export interface HttpService extends Service {
  readonly server: Server;
  /** The address it listens on, once started (`http://127.0.0.1:3000`). */
  url(): string;
}

export function createHttpService({
  app,
  port,
  host,
  log,
}: {
  app: RequestListener;
  port: number;
  host: string;
  log: Logger;
}): HttpService {
  const server = createServer(app);
  let stopping: Promise<void> | undefined;
  return {
    name: 'http',
    server,
    url() {
      const address = server.address() as AddressInfo | null;
      if (!address) return `http://${host}:${port}`;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${shown === '0.0.0.0' || shown === '[::]' ? 'localhost' : shown}:${address.port}`;
    },
    start() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          log.info({ url: this.url() }, 'listening');
          resolve();
        });
      });
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return stopping;
    },
  };
}
