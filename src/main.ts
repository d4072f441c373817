#!/usr/bin/env node
// The CLI and composition root: reads the config, opens connections, wires the roles and installs
// the signal handlers. Everything else receives its dependencies.

import { parseArgs } from 'node:util';
import express from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createApp } from './api/app.js';
import { checkExposure, createTokenVerifier } from './api/auth.js';
import { dashboardHandlers } from './api/dashboard.js';
import { createHttpServer } from './api/http-server.js';
import { createOpsRouter, type ReadinessCheck } from './api/ops.js';
import { createBridge } from './bridge/bridge.js';
import { type Config, ConfigError, loadConfig, parseRoles, readEnvironment, redactUrl } from './config.js';
import { ensureDatabase, type MigrateDirection, migrate, migrationStatus } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { createGateway } from './gateway/gateway.js';
import { toError } from './lib/errors.js';
import { type Service, startServices } from './lib/service.js';
import { createLogger, type Logger } from './log.js';
import { projectPath } from './paths.js';

/** How long a graceful stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 10_000;

const USAGE = `orders-live — real-time order monitoring

Usage: orders-live <command> [options]

Commands:
  start [--role api,bridge,gateway] [--port N]   run the system (all roles by default)
  migrate [up|down|status]                        apply, undo (one) or list migrations

Run "orders-live <command> --help" for a command's options.
Configuration comes from the environment and .env (see README.md).`;

const COMMAND_HELP: Record<string, string> = {
  start: `Usage: orders-live start [--role api,bridge,gateway] [--port N]

Creates the database when missing, applies migrations (unless MIGRATE_ON_START=false), then runs
the given roles in this process until SIGINT/SIGTERM.
  --role    comma-separated roles (default: ROLES, i.e. api,bridge,gateway)
  --port    HTTP port (default: PORT, i.e. 3000)`,
  migrate: `Usage: orders-live migrate [up|down|status] [--count N]

  up       apply every pending migration (default)
  down     undo the last migration (or --count N of them)
  status   list applied and pending migrations`,
};

type CommandResult = number | 'running';

async function main(argv: string[]): Promise<CommandResult> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    const help = COMMAND_HELP[command];
    if (!help) return usageError(`unknown command "${command}"`);
    console.log(help);
    return 0;
  }
  switch (command) {
    case 'start':
      return start(rest);
    case 'migrate':
      return migrateCommand(rest);
    default:
      return usageError(`unknown command "${command}"`);
  }
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
    if (parsed.problem) return usageError(`--role ${parsed.problem}`);
    overrides.roles = parsed.roles;
  }
  if (values.port !== undefined) {
    if (!/^\d+$/.test(values.port) || Number(values.port) > 65_535)
      return usageError('--port must be 0–65535');
    overrides.port = Number(values.port);
  }
  const config = loadConfig(readEnvironment(), overrides);
  const exposure = config.roles.includes('api') ? checkExposure(config) : null;
  if (exposure) throw new Error(exposure);
  const log = createLogger(config.logLevel);
  await prepareDatabase(config, log);

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'orders_live_' });
  const services: Service[] = [];
  const checks: ReadinessCheck[] = [];
  const pool = createPool(config.databaseUrl, { applicationName: 'orders-live', max: 10, log });
  services.push({ name: 'pool', start: async () => undefined, stop: () => pool.end() });
  checks.push({ name: 'postgres', check: async () => void (await pool.query('SELECT 1')) });

  if (config.roles.includes('bridge')) {
    const bridge = createBridge({
      databaseUrl: config.databaseUrl,
      rabbitmqUrl: config.rabbitmqUrl,
      exchange: config.amqpExchange,
      config: config.bridge,
      pool,
      registry,
      log: log.child({ role: 'bridge' }),
    });
    services.push(bridge);
    checks.push({ name: 'bridge', check: () => bridge.ready() });
  }

  const app = config.roles.includes('api')
    ? createApp({
        pool,
        log: log.child({ role: 'api' }),
        registry,
        checks,
        tokens: config.apiTokens,
        bodyLimitBytes: config.bodyLimitBytes,
        extraHandlers: dashboardHandlers(projectPath('web', 'dist')),
      })
    : opsOnlyApp(registry, checks);
  const http = createHttpServer(app, { port: config.port, host: config.host, log });
  services.push(http);

  if (config.roles.includes('gateway')) {
    const gateway = createGateway({
      httpServer: http.server,
      pool,
      rabbitmqUrl: config.rabbitmqUrl,
      exchange: config.amqpExchange,
      config: config.gateway,
      verifyToken: config.apiTokens.length > 0 ? createTokenVerifier(config.apiTokens) : undefined,
      registry,
      log: log.child({ role: 'gateway' }),
    });
    // After http in the list, so it stops first: it closes the client sockets the server waits on.
    services.push(gateway);
    checks.push({ name: 'gateway', check: () => gateway.ready() });
  }

  const group = await startServices(services);
  log.info({ roles: config.roles, url: http.url() }, 'orders-live started');
  installSignalHandlers(log, () => group.stop(STOP_DEADLINE_MS));
  return 'running';
}

/** A bridge- or gateway-only process still answers /healthz, /readyz and /metrics. */
function opsOnlyApp(registry: Registry, checks: ReadinessCheck[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(createOpsRouter({ registry, checks }));
  return app;
}

async function prepareDatabase(config: Config, log: Logger): Promise<void> {
  if (config.createDatabase) await ensureDatabase(config.databaseUrl, log);
  if (config.migrateOnStart) await migrate(config.databaseUrl, { direction: 'up', log });
}

async function migrateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { count: { type: 'string' } },
  });
  const action = positionals[0] ?? 'up';
  if (!['up', 'down', 'status'].includes(action) || positionals.length > 1) {
    return usageError(`migrate takes up, down or status; got "${positionals.join(' ')}"`);
  }
  if (values.count !== undefined && !/^[1-9]\d*$/.test(values.count))
    return usageError('--count must be ≥ 1');
  const config = loadConfig(readEnvironment());
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  if (action === 'status') {
    const status = await migrationStatus(config.databaseUrl, log);
    for (const name of status.applied) console.log(`applied  ${name}`);
    for (const name of status.pending) console.log(`pending  ${name}`);
    return 0;
  }
  if (config.createDatabase) await ensureDatabase(config.databaseUrl, log);
  const count = values.count === undefined ? undefined : Number(values.count);
  const ran = await migrate(config.databaseUrl, { direction: action as MigrateDirection, count, log });
  console.log(ran.length === 0 ? 'nothing to migrate' : ran.map((name) => `${action}  ${name}`).join('\n'));
  return 0;
}

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

/** One line for a failure at start: what was tried and how to fix it; never a stack trace. */
export function describeStartupError(e: unknown, env = readEnvironment()): string {
  const err = toError(e);
  if (err instanceof ConfigError) return err.message;
  const code = (err as { code?: string }).code;
  const text = `${err.message} ${code ?? ''}`;
  let config: Config | undefined;
  try {
    config = loadConfig(env);
  } catch {
    config = undefined;
  }
  if (
    config &&
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|timeout expired|Connection terminated/i.test(text)
  ) {
    const which = /amqp|5672/i.test(text) ? 'rabbitmq' : 'postgres';
    const url = which === 'rabbitmq' ? config.rabbitmqUrl : config.databaseUrl;
    const how =
      which === 'rabbitmq'
        ? 'start it with "docker compose up -d rabbitmq" or "rabbitmq-server -detached", or set RABBITMQ_URL'
        : 'start it with "docker compose up -d postgres" or "pg_ctlcluster 15 main start", or set DATABASE_URL';
    return `cannot reach ${which === 'rabbitmq' ? 'RabbitMQ' : 'PostgreSQL'} at ${redactUrl(url)} (${code ?? err.message}): ${how}`;
  }
  return err.message;
}

main(process.argv.slice(2)).then(
  (result) => {
    if (result !== 'running') process.exitCode = result;
  },
  (e: unknown) => {
    console.error(`orders-live: ${describeStartupError(e)}`);
    process.exitCode = 1;
  },
);
