// The Express app of the api role: orders, events, ops endpoints and the OpenAPI document,
// behind security headers and request observation, with one problem+json error handler.
// Returns the app without listening (see createHttpServer).

import express, { type Express, type Request, type RequestHandler } from 'express';
import helmet from 'helmet';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { ApiToken } from '../config.js';
import { createOrdersRepository } from '../db/orders.js';
import type { Logger } from '../log.js';
import { createErrorHandler } from './error-handler.js';
import { createEventsRouter } from './events-router.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { createOpsRouter, type ReadinessCheck } from './ops.js';
import { createOrdersRouter } from './orders-router.js';
import { methodNotAllowed, routeNotFound } from './problem.js';
import { createRequestObserver } from './request-observer.js';

export interface AppOptions {
  pool: pg.Pool;
  log: Logger;
  /** HTTP metrics are registered here, and GET /metrics serves it. */
  registry: Registry;
  /** What GET /readyz asks. */
  checks: readonly ReadinessCheck[];
  /** Named bearer tokens (config.apiTokens); empty: writes are open. */
  tokens: readonly ApiToken[];
  /** Largest accepted request body, in bytes (config.bodyLimitBytes). */
  bodyLimitBytes: number;
  /** Mounted after the API and before the 404 fallback, e.g. the dashboard's static files. */
  extraHandlers?: readonly RequestHandler[];
}

export function createApp(options: AppOptions): Express {
  const { pool, log, registry, checks, tokens, bodyLimitBytes, extraHandlers = [] } = options;
  const app = express();
  app.disable('x-powered-by');
  // ETags are order versions, set by the routes; Express's body-hash ETags would contradict them.
  app.set('etag', false);

  app.use(createRequestObserver({ log, registry }));
  app.use(helmet(helmetOptions()));
  app.use(createOpsRouter({ registry, checks }));
  app.use(createOrdersRouter({ orders: createOrdersRepository(pool), tokens, bodyLimitBytes }));
  app.use(createEventsRouter({ pool }));
  app.get('/openapi.json', (_req, res) => {
    res.json(OPENAPI_DOCUMENT);
  });
  app.all(['/healthz', '/readyz', '/metrics', '/openapi.json'], methodNotAllowed('GET, HEAD'));
  for (const handler of extraHandlers) app.use(handler);
  app.use(routeNotFound);
  app.use(createErrorHandler(log));
  return app;
}

/**
 * Helmet's defaults, adjusted for the dashboard this app will serve: scripts, styles and
 * connections (fetch and the Socket.IO websocket) from the same origin only. No
 * upgrade-insecure-requests: a dashboard served over plain HTTP on a LAN must load its scripts.
 */
function helmetOptions(): Parameters<typeof helmet>[0] {
  return {
    contentSecurityPolicy: {
      directives: {
        scriptSrc: ["'self'"],
        // Charting code sets style attributes; no external stylesheets.
        styleSrc: ["'self'", "'unsafe-inline'"],
        // CSP3 lets 'self' cover ws(s) of the same host; older Safari needs them spelled out.
        connectSrc: ["'self'", (req) => sameHostWebSockets(req as Request)],
        upgradeInsecureRequests: null,
      },
    },
  };
}

function sameHostWebSockets(req: Request): string {
  const host = req.headers.host ?? '';
  // Only a plain host[:port] goes into the header: anything else could add directives.
  if (!/^(?:[\w.-]+|\[[\da-f:.]+\])(?::\d{1,5})?$/i.test(host)) return '';
  return `ws://${host} wss://${host}`;
}
