#!/usr/bin/env node
// The CLI: dispatches the commands; `start` reads the configuration, probes PostgreSQL and
// RabbitMQ, starts the roles (system.ts, the composition root) and installs the signal handlers.

import { parseArgs } from 'node:util';
import { checkExposure } from './api/auth.js';
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
import { toError } from './lib/errors.js';
import { createLogger, type Logger } from './log.js';
import { prepareDatabase, STOP_DEADLINE_MS, startSystem } from './system.js';

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

  const system = await startSystem(config, log);
  log.info({ roles: config.roles, url: system.url }, 'orders-live started');
  if (forPeople) console.log(startBanner({ ...config, url: system.url, metricsUrl: system.metricsUrl }));
  installSignalHandlers(log, () => system.stop());
  return 'running';
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
