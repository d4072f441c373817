// The composition root: opens the connections and wires the roles a configuration asks for, in
// the order they start and (reversed) stop. The CLI (main.ts) reads the configuration, probes the
// services and handles signals; everything here receives its dependencies.

import type { Server as HttpServer } from 'node:http';
import type pg from 'pg';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createApp, createMetricsApp, createOpsApp } from './api/app.js';
import { createTokenVerifier } from './api/auth.js';
import { dashboardHandlers } from './api/dashboard.js';
import { createHttpServer } from './api/http-server.js';
import type { ReadinessCheck } from './api/ops.js';
import { handshakeProblem, originPolicyOf } from './api/origin-policy.js';
import { createBridge } from './bridge/bridge.js';
import type { Config } from './config.js';
import { ensureDatabase, migrate } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { createGateway } from './gateway/gateway.js';
import type { AdmitRequest } from './gateway/socket-io.js';
import { type Service, startServices } from './lib/service.js';
import type { Logger } from './log.js';
import { projectPath } from './paths.js';

/** How long a graceful stop may take before the process exits anyway. */
export const STOP_DEADLINE_MS = 10_000;

export interface RunningSystem {
  url: string;
  metricsUrl: string | undefined;
  /**
   * Refuses new connections at once, then stops the roles in reverse start order: gateway
   * (sockets told to reconnect), http (in-flight requests finish within its deadline), bridge,
   * and the pool last, because those requests still use it.
   */
  stop(): Promise<{ timedOut: string[] }>;
}

/** Creates the database when asked and applies pending migrations when asked. */
export async function prepareDatabase(config: Config, log: Logger): Promise<void> {
  if (config.createDatabase) await ensureDatabase(config.databaseUrl, log);
  if (config.migrateOnStart) await migrate(config.databaseUrl, { direction: 'up', log });
}

/** What the roles add as they are wired: services in start order, readiness checks, AMQP links. */
interface Wiring {
  config: Config;
  log: Logger;
  registry: Registry;
  pool: pg.Pool;
  services: Service[];
  checks: ReadinessCheck[];
  /** Each role's AMQP links and the broker node each is on, for /readyz. */
  brokerLinks: (() => Record<string, string | null>)[];
}

/** Starts the roles of `config` in this process. */
export async function startSystem(config: Config, log: Logger): Promise<RunningSystem> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'orders_live_' });
  const pool = createPool(config.databaseUrl, { applicationName: 'orders-live', max: 10, log });
  const wiring: Wiring = { config, log, registry, pool, services: [], checks: [], brokerLinks: [] };
  wiring.services.push({ name: 'pool', start: async () => undefined, stop: () => pool.end() });
  wiring.checks.push({ name: 'postgres', check: async () => void (await pool.query('SELECT 1')) });
  if (config.roles.includes('bridge')) addBridge(wiring);
  const { http, metricsHttp } = addHttpServers(wiring);
  // After http in the list, so it stops first: it closes the client sockets (websockets and
  // long polls) that would otherwise hold the HTTP drain open until its deadline.
  if (config.roles.includes('gateway')) addGateway(wiring, http.server);
  const group = await startServices(wiring.services);
  return {
    url: http.url(),
    metricsUrl: metricsHttp?.url(),
    stop() {
      // New connections are refused before any role stops: else the clients the gateway
      // disconnects would reconnect to this same process.
      http.refuseNew();
      metricsHttp?.refuseNew();
      return group.stop(STOP_DEADLINE_MS);
    },
  };
}

function addBridge({ config, log, registry, pool, services, checks, brokerLinks }: Wiring): void {
  const bridge = createBridge({
    databaseUrl: config.databaseUrl,
    rabbitmqUrls: config.rabbitmqUrls,
    exchange: config.amqpExchange,
    config: config.bridge,
    pool,
    registry,
    log: log.child({ role: 'bridge' }),
  });
  services.push(bridge);
  checks.push({ name: 'bridge', check: () => bridge.ready() });
  brokerLinks.push(() => bridge.brokers());
}

/** The public listener (the REST API and dashboard, or only the ops routes) and the metrics one. */
function addHttpServers({ config, log, registry, pool, services, checks, brokerLinks }: Wiring) {
  const usesBroker = config.roles.includes('bridge') || config.roles.includes('gateway');
  const brokers = usesBroker ? () => Object.assign({}, ...brokerLinks.map((links) => links())) : undefined;
  const app = config.roles.includes('api')
    ? createApp({
        pool,
        log: log.child({ role: 'api' }),
        registry,
        checks,
        brokers,
        access: config,
        bodyLimitBytes: config.bodyLimitBytes,
        extraHandlers: dashboardHandlers(projectPath('web', 'dist')),
      })
    : createOpsApp({ log, registry, checks, brokers, access: config });
  const http = createHttpServer(app, { port: config.port, host: config.host, log });
  services.push(http);
  // Loopback only: whoever can reach it is on this machine (Prometheus beside the process).
  const metricsHttp =
    config.metricsPort === null
      ? undefined
      : createHttpServer(createMetricsApp({ registry, log }), {
          port: config.metricsPort,
          host: '127.0.0.1',
          log: log.child({ listener: 'metrics' }),
        });
  if (metricsHttp) services.push(metricsHttp);
  return { http, metricsHttp };
}

function addGateway(
  { config, log, registry, pool, services, checks, brokerLinks }: Wiring,
  httpServer: HttpServer,
): void {
  const gateway = createGateway({
    httpServer,
    pool,
    rabbitmqUrls: config.rabbitmqUrls,
    exchange: config.amqpExchange,
    config: config.gateway,
    verifyToken: config.apiTokens.length > 0 ? createTokenVerifier(config.apiTokens) : undefined,
    admit: handshakeAdmission(config),
    registry,
    log: log.child({ role: 'gateway' }),
  });
  services.push(gateway);
  checks.push({ name: 'gateway', check: () => gateway.ready() });
  brokerLinks.push(() => gateway.brokers());
}

/** The socket handshake's Host and Origin, judged as the REST API's are. */
function handshakeAdmission(config: Config): AdmitRequest {
  const policy = originPolicyOf(config);
  return (req) => handshakeProblem(policy, req.headers);
}
