// An in-process gateway on a test's pool and exchange, on an HTTP server of its own that answers
// 404 to everything else; resolves once it consumes. The gateway's options override the defaults.

import type pg from 'pg';
import { Registry } from 'prom-client';
import { createHttpServer } from '../../src/api/http-server.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log.js';
import { RABBITMQ_URL } from './names.js';
import { waitFor } from './wait.js';

export interface TestGateway {
  url: string;
  gateway: Gateway;
  registry: Registry;
  /** Stops the gateway, then its HTTP server; a second call does nothing. */
  stop(): Promise<void>;
}

export async function startTestGateway(
  options: { pool: pg.Pool; exchange: string } & Partial<Omit<GatewayOptions, 'httpServer'>>,
): Promise<TestGateway> {
  const log = options.log ?? createLogger('silent');
  const http = createHttpServer(
    (_req, res) => {
      res.statusCode = 404;
      res.end();
    },
    { port: 0, host: '127.0.0.1', log },
  );
  const registry = options.registry ?? new Registry();
  const gateway = createGateway({
    rabbitmqUrls: [RABBITMQ_URL],
    config: { prefetch: 500, maxBufferedBytes: 4 * 1024 * 1024 },
    ...options,
    httpServer: http.server,
    registry,
    log,
  });
  await http.start();
  await gateway.start();
  await waitFor(
    () =>
      gateway.ready().then(
        () => true,
        () => false,
      ),
    { what: 'the gateway consuming' },
  );
  let stopped = false;
  return {
    url: http.url(),
    gateway,
    registry,
    async stop() {
      if (stopped) return;
      stopped = true;
      await gateway.stop();
      await http.stop();
    },
  };
}
