#!/usr/bin/env node
// The CLI and composition root: reads the config, opens connections, wires the roles and installs
// the signal handlers. Everything else receives its dependencies.

import { parseArgs } from 'node:util';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createApp, createMetricsApp, createOpsApp } from './api/app.js';
import { checkExposure, createTokenVerifier } from './api/auth.js';
import { dashboardHandlers } from './api/dashboard.js';
import { createHttpServer } from './api/http-server.js';
import type { ReadinessCheck } from './api/ops.js';
import { handshakeProblem, originPolicyOf } from './api/origin-policy.js';
import { createBridge } from './bridge/bridge.js';
import { startBanner } from './cli/banner.js';
import {
  COMMAND_HELP,
  type CommandContext,
  demoCommand,
  doctorCommand,
  migrateCommand,
  tailCommand,
  USAGE,
  UsageError,
} from './cli/commands.js';
import { probeBroker, probeDatabase, reaching, UnreachableError } from './cli/reachability.js';
import { type Config, ConfigError, loadConfig, parseRoles, readEnvironment } from './config.js';
import { ensureDatabase, migrate } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { createGateway } from './gateway/gateway.js';
import type { AdmitRequest } from './gateway/socket-server.js';
import { toError } from './lib/errors.js';
import { type Service, startServices } from './lib/service.js';
import { createLogger, type Logger } from './log.js';
import { projectPath } from './paths.js';

/** How long a graceful stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 10_000;

type CommandResult = number | 'running';

async function main(argv: string[]): Promise<CommandResult> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const help = COMMAND_HELP[command];
  if (!help) return usageError(`unknown command "${command}"`);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(help);
    return 0;
  }
  try {
    if (command === 'start') return await start(rest);
    return await COMMANDS[command]!(rest, commandContext());
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      return usageError(toError(e).message);
    }
    throw e;
  }
}

const COMMANDS: Record<string, (args: string[], context: CommandContext) => Promise<number>> = {
  migrate: migrateCommand,
  tail: tailCommand,
  demo: demoCommand,
  doctor: doctorCommand,
};

/** Config and I/O for a short-lived command; SIGINT/SIGTERM abort it (a second one exits). */
function commandContext(): CommandContext {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    config: loadConfig(readEnvironment()),
    signal: controller.signal,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    isTty: process.stdout.isTTY === true,
  };
}

function usageError(message: string): number {
  console.error(`orders-live: ${message} (see "orders-live --help")`);
  return 2;
}

async function start(args: string[]): Promise<CommandResult> {
  const { values } = parseArgs({ args, options: { role: { type: 'string' }, port: { type: 'string' } } });
  const overrides: { roles?: Config['roles']; port?: number } = {};
  if (values.role !== undefined) {
    const parsed = parseRoles(values.role);
    if (parsed.problem) throw new UsageError(`--role ${parsed.problem}`);
    overrides.roles = parsed.roles;
  }
  if (values.port !== undefined) {
    if (!/^\d+$/.test(values.port) || Number(values.port) > 65_535)
      throw new UsageError('--port must be 0–65535');
    overrides.port = Number(values.port);
  }
  const config = loadConfig(readEnvironment(), overrides);
  const exposure = checkExposure(config);
  if (exposure) throw new Error(exposure);
  // A person at a terminal reads lines and a banner; anything else (a file, a collector) gets JSON.
  const forPeople =
    config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const log = createLogger(config.logLevel, undefined, forPeople ? 'pretty' : 'json');
  // Fail fast, in one line, when a service is not there; once running, every link retries.
  await probeDatabase(config.databaseUrl);
  if (config.roles.includes('bridge') || config.roles.includes('gateway'))
    await probeBroker(config.rabbitmqUrls);
  await reaching('PostgreSQL', config.databaseUrl, () => prepareDatabase(config, log));

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'orders_live_' });
  const services: Service[] = [];
  const checks: ReadinessCheck[] = [];
  /** Each role's AMQP links and the broker node each is on, for /readyz. */
  const brokerLinks: (() => Record<string, string | null>)[] = [];
  const usesBroker = config.roles.includes('bridge') || config.roles.includes('gateway');
  const brokers = usesBroker ? () => Object.assign({}, ...brokerLinks.map((links) => links())) : undefined;
  const pool = createPool(config.databaseUrl, { applicationName: 'orders-live', max: 10, log });
  services.push({ name: 'pool', start: async () => undefined, stop: () => pool.end() });
  checks.push({ name: 'postgres', check: async () => void (await pool.query('SELECT 1')) });

  if (config.roles.includes('bridge')) {
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

  if (config.roles.includes('gateway')) {
    const gateway = createGateway({
      httpServer: http.server,
      pool,
      rabbitmqUrls: config.rabbitmqUrls,
      exchange: config.amqpExchange,
      config: config.gateway,
      verifyToken: config.apiTokens.length > 0 ? createTokenVerifier(config.apiTokens) : undefined,
      admit: handshakeAdmission(config),
      registry,
      log: log.child({ role: 'gateway' }),
    });
    // After http in the list, so it stops first: it closes the client sockets (websockets and
    // long polls) that would otherwise hold the HTTP drain open until its deadline.
    services.push(gateway);
    checks.push({ name: 'gateway', check: () => gateway.ready() });
    brokerLinks.push(() => gateway.brokers());
  }

  const group = await startServices(services);
  log.info({ roles: config.roles, url: http.url() }, 'orders-live started');
  if (forPeople) console.log(startBanner({ ...config, url: http.url(), metricsUrl: metricsHttp?.url() }));
  installSignalHandlers(log, () => {
    // New connections are refused at the signal, before any role stops: else the clients the
    // gateway disconnects would reconnect to this same process, and requests taken meanwhile
    // would get what is left of the deadline. Then, in reverse start order: gateway (sockets told
    // to reconnect), http (in-flight requests finish within its deadline), bridge, and the pool
    // last, because those requests still use it.
    http.refuseNew();
    metricsHttp?.refuseNew();
    return group.stop(STOP_DEADLINE_MS);
  });
  return 'running';
}

/** The socket handshake's Host and Origin, judged as the REST API's are. */
function handshakeAdmission(config: Config): AdmitRequest {
  const policy = originPolicyOf(config);
  return (req) => handshakeProblem(policy, req.headers);
}

async function prepareDatabase(config: Config, log: Logger): Promise<void> {
  if (config.createDatabase) await ensureDatabase(config.databaseUrl, log);
  if (config.migrateOnStart) await migrate(config.databaseUrl, { direction: 'up', log });
}

/** The first SIGINT/SIGTERM runs `stop` (under STOP_DEADLINE_MS) and exits; a second one exits now. */
function installSignalHandlers(log: Logger, stop: () => Promise<{ timedOut: string[] }>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal, deadlineMs: STOP_DEADLINE_MS }, 'stopping');
    void stop().then(({ timedOut }) => {
      if (timedOut.length > 0) log.warn({ timedOut }, 'services did not stop before the deadline');
      log.info('stopped');
      process.exit(timedOut.length > 0 ? 1 : 0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** One line for a failure: what went wrong and, where known, how to fix it; never a stack trace. */
function describeError(e: unknown): string {
  const err = toError(e);
  if (err instanceof ConfigError || err instanceof UnreachableError) return err.message;
  return err.message || err.name;
}

main(process.argv.slice(2)).then(
  (result) => {
    if (result !== 'running') process.exitCode = result;
  },
  (e: unknown) => {
    console.error(`orders-live: ${describeError(e)}`);
    process.exitCode = 1;
  },
);
