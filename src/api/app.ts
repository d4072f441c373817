// The Express apps: the api role's (orders, events, ops endpoints and the OpenAPI document), the
// one of a process without it (ops endpoints), and /metrics on its own port; each behind the Host
// check and request observation, with one problem+json error handler. Returns apps without
// listening (see createHttpServer).

import express, { type Express, type Request, type RequestHandler } from 'express';
import helmet from 'helmet';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { createOrdersRepository } from '../db/orders.js';
import type { Logger } from '../log.js';
import { createAccessRouter } from './access-router.js';
import { identifyCaller, requireAccess } from './auth.js';
import { createErrorHandler } from './error-handler.js';
import { createEventsRouter } from './events-router.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { createOpsRouter, type ReadinessCheck, serveMetrics } from './ops.js';
import { createOrdersRouter } from './orders-router.js';
import { createOriginPolicy, type OriginPolicy, originPolicyOf } from './origin-policy.js';
import { methodNotAllowed, ProblemError, routeNotFound } from './problem.js';
import { hostGuard, originGuard, rateLimiter } from './request-guards.js';
import { createRequestObserver } from './request-observer.js';

/** Who may use the app, from the configuration (docs/design.md, "Who may do what"). */
export type AccessConfig = Pick<
  Config,
  'apiTokens' | 'allowedHosts' | 'allowedOrigins' | 'rateLimit' | 'metricsPort' | 'trustProxy'
>;

export interface OpsAppOptions {
  log: Logger;
  /** HTTP metrics are registered here, and GET /metrics serves it (unless METRICS_PORT is set). */
  registry: Registry;
  /** What GET /readyz asks. */
  checks: readonly ReadinessCheck[];
  /** What GET /readyz says of the broker: the node each AMQP link is on. */
  brokers?: () => Record<string, string | null>;
  access: AccessConfig;
}

export interface AppOptions extends OpsAppOptions {
  pool: pg.Pool;
  /** Largest accepted request body, in bytes (config.bodyLimitBytes). */
  bodyLimitBytes: number;
  /** Mounted after the API and before the 404 fallback, e.g. the dashboard's static files. */
  extraHandlers?: readonly RequestHandler[];
}

/** The routes of the REST API: behind the origin check, the caller's token and the rate limit. */
const API_PATHS = ['/orders', '/events', '/access'];
/** Probes come from load balancers and orchestrators under any name; they tell nothing about orders. */
const PROBE_PATHS = ['/healthz', '/readyz'];

export function createApp(options: AppOptions): Express {
  const { pool, log, access, bodyLimitBytes, extraHandlers = [] } = options;
  const tokensRequired = access.apiTokens.length > 0;
  const policy = originPolicyOf(access);
  const app = guardedApp(options, policy);
  app.use(helmet(helmetOptions()));
  app.use(createOpsRouter({ ...options, metrics: metricsAccess(access) }));
  const apiGuards = [originGuard(policy), identifyCaller(access.apiTokens)];
  if (access.rateLimit) apiGuards.push(rateLimiter(access.rateLimit));
  app.use(API_PATHS, ...apiGuards);
  app.use(
    createOrdersRouter({ orders: createOrdersRepository(pool), tokensRequired, bodyLimitBytes }),
    createEventsRouter({ pool, tokensRequired }),
    createAccessRouter({ tokensRequired }),
  );
  app.get('/openapi.json', (_req, res) => {
    res.json(OPENAPI_DOCUMENT);
  });
  app.all([...PROBE_PATHS, '/openapi.json'], methodNotAllowed('GET, HEAD'));
  app.all('/metrics', metricsFallback(access));
  for (const handler of extraHandlers) app.use(handler);
  return finish(app, log);
}

/** A process without the api role (bridge, gateway) still answers /healthz, /readyz and /metrics. */
export function createOpsApp(options: OpsAppOptions): Express {
  const app = guardedApp(options, originPolicyOf(options.access));
  app.use(createOpsRouter({ ...options, metrics: metricsAccess(options.access) }));
  app.all(PROBE_PATHS, methodNotAllowed('GET, HEAD'));
  app.all('/metrics', metricsFallback(options.access));
  return finish(app, options.log);
}

/**
 * /metrics alone, for its own listener on loopback (METRICS_PORT): no token, but still only
 * under a loopback name, so a page cannot read it through DNS rebinding.
 */
export function createMetricsApp({ registry, log }: Pick<OpsAppOptions, 'registry' | 'log'>): Express {
  const policy = createOriginPolicy({ tokensRequired: false, allowedHosts: [], allowedOrigins: [] });
  const app = express();
  app.disable('x-powered-by');
  app.use(hostGuard(policy));
  app.get('/metrics', serveMetrics(registry));
  app.all('/metrics', methodNotAllowed('GET, HEAD'));
  return finish(app, log);
}

/** Observation, proxy trust and the Host check: what every listener of a role starts with. */
function guardedApp({ log, registry, access }: OpsAppOptions, policy: OriginPolicy): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', access.trustProxy);
  // ETags are order versions, set by the routes; Express's body-hash ETags would contradict them.
  app.set('etag', false);
  app.use(createRequestObserver({ log, registry }));
  app.use(hostGuard(policy, PROBE_PATHS));
  return app;
}

/** Other methods on /metrics get 405; with METRICS_PORT every request gets a 404 saying where it is. */
function metricsFallback(access: AccessConfig): RequestHandler {
  if (access.metricsPort === null) return methodNotAllowed('GET, HEAD');
  return () => {
    throw new ProblemError(
      'route_not_found',
      404,
      `/metrics is served on its own listener, 127.0.0.1:${access.metricsPort} (METRICS_PORT)`,
    );
  };
}

function finish(app: Express, log: Logger): Express {
  app.use(routeNotFound);
  app.use(createErrorHandler(log));
  return app;
}

/** How /metrics is guarded here: a read token when tokens are configured, or not served (METRICS_PORT). */
function metricsAccess(access: AccessConfig): RequestHandler[] | null {
  if (access.metricsPort !== null) return null;
  const tokensRequired = access.apiTokens.length > 0;
  return tokensRequired ? [identifyCaller(access.apiTokens), requireAccess('read', true)] : [];
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
