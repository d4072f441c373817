// The CLI's commands other than `start`: argument parsing, help and output. Each receives the
// loaded configuration from main.ts and returns an exit code.

import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { ensureDatabase, type MigrateDirection, migrate, migrationStatus } from '../db/migrate.js';
import { redactUrl } from '../lib/redact.js';
import { createLogger } from '../log.js';
import { runDemo } from './demo.js';
import { diagnose } from './doctor.js';
import { parseStatuses, tail } from './tail.js';

export const USAGE = `orders-live — real-time order monitoring

Usage: orders-live <command> [options]

Commands:
  start [--role api,bridge,gateway] [--port N]   run the system (all roles by default)
  migrate [up|down|status]                        apply, undo (one) or list migrations
  tail [--since P] [--status s1,s2] [--json]      live events in the terminal
  demo [--rate N] [--duration S] [--orders N]     realistic order traffic, API and SQL
  doctor                                          check every link and say how to fix it

Run "orders-live <command> --help" for a command's options.
Configuration comes from the environment and .env (see docs/operations.md).`;

export const COMMAND_HELP: Record<string, string> = {
  start: `Usage: orders-live start [--role api,bridge,gateway] [--port N]

Creates the database when missing, applies migrations (unless MIGRATE_ON_START=false), then runs
the given roles in this process until SIGINT/SIGTERM (a second signal exits at once).
  --role    comma-separated roles (default: ROLES, i.e. api,bridge,gateway)
  --port    HTTP port (default: PORT, i.e. 3000)`,
  migrate: `Usage: orders-live migrate [up|down|status] [--count N]

  up       apply every pending migration (default)
  down     undo the last migration (or --count N of them)
  status   list applied and pending migrations`,
  tail: `Usage: orders-live tail [--since P] [--status s1,s2] [--json] [--url URL]

Prints live events from a gateway, one line each, and resumes by itself after a disconnect.
  --since   replay every event after position P first
  --status  only events of orders with these statuses (pending, processing, shipped, delivered, cancelled)
  --json    one JSON envelope per line instead of text
  --url     the gateway, or several separated by commas, tried in turn (default: http://127.0.0.1:PORT);
            the first API_TOKENS token is sent`,
  demo: `Usage: orders-live demo [--rate N] [--duration S] [--orders N] [--url URL]

Writes realistic order traffic — half through the REST API, half as direct SQL — and exits.
  --rate      changes per second (default 20)
  --duration  seconds (default 30)
  --orders    orders to have before the timed run (default 50)
  --url       the API (default: http://127.0.0.1:PORT); the first read-write API_TOKENS token is sent`,
  doctor: `Usage: orders-live doctor

Checks PostgreSQL, migrations, the capture triggers, a NOTIFY round trip, the bridge leader and
backlog, RabbitMQ, the exchanges and the dead-letter queue; prints what is wrong and how to fix it.
Exits 1 when something is wrong.`,
};

export interface CommandContext {
  config: Config;
  signal: AbortSignal;
  out: (line: string) => void;
  err: (line: string) => void;
  isTty: boolean;
}

export class UsageError extends Error {}

function localUrl(config: Config): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
}

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number; got "${raw}"`);
  return n;
}

export async function migrateCommand(args: string[], { config, out }: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { count: { type: 'string' } },
  });
  const action = positionals[0] ?? 'up';
  if (!['up', 'down', 'status'].includes(action) || positionals.length > 1) {
    throw new UsageError(`migrate takes up, down or status; got "${positionals.join(' ')}"`);
  }
  if (values.count !== undefined && !/^[1-9]\d*$/.test(values.count))
    throw new UsageError('--count must be ≥ 1');
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  if (action === 'status') {
    const status = await migrationStatus(config.databaseUrl, log);
    for (const name of status.applied) out(`applied  ${name}`);
    for (const name of status.pending) out(`pending  ${name}`);
    return 0;
  }
  if (config.createDatabase) await ensureDatabase(config.databaseUrl, log);
  const count = values.count === undefined ? undefined : Number(values.count);
  const ran = await migrate(config.databaseUrl, { direction: action as MigrateDirection, count, log });
  out(ran.length === 0 ? 'nothing to migrate' : ran.map((name) => `${action}  ${name}`).join('\n'));
  return 0;
}

export function tailCommand(
  args: string[],
  { config, signal, out, err, isTty }: CommandContext,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...stringOptions('since', 'status', 'url'), json: { type: 'boolean' } },
  });
  if (values.since !== undefined && !/^\d+$/.test(values.since))
    throw new UsageError('--since must be a position (≥ 0)');
  const status = values.status === undefined ? undefined : parseStatuses(values.status);
  if (typeof status === 'string') throw new UsageError(status);
  return tail(
    {
      url: values.url ?? localUrl(config),
      since: values.since === undefined ? undefined : Number(values.since),
      status,
      json: values.json ?? false,
      token: config.apiTokens[0]?.token,
      colour: isTty && !values.json,
      out,
      err,
    },
    signal,
  );
}

export async function demoCommand(
  args: string[],
  { config, signal, err, isTty }: CommandContext,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: stringOptions('rate', 'duration', 'orders', 'url'),
  });
  const result = await runDemo(
    {
      databaseUrl: config.databaseUrl,
      apiUrl: values.url ?? localUrl(config),
      // Its API half writes: the first token that may.
      token: config.apiTokens.find((t) => t.access === 'write')?.token,
      rate: positiveNumber('rate', values.rate, 20),
      durationS: positiveNumber('duration', values.duration, 30),
      orders: Math.round(positiveNumber('orders', values.orders, 50)),
      // On a terminal the progress line rewrites itself; in a log it is one line per update.
      progress: (line, final) => (isTty ? process.stderr.write(`\r${line}${final ? '\n' : ''}`) : err(line)),
    },
    signal,
  );
  if (result.api === 0 && result.failed > 0)
    err('no API write succeeded: is the api role running? (orders-live start)');
  return result.failed > (result.api + result.sql) / 10 ? 1 : 0;
}

export async function doctorCommand(_args: string[], { config, out }: CommandContext): Promise<number> {
  const findings = await diagnose({
    databaseUrl: config.databaseUrl,
    rabbitmqUrls: config.rabbitmqUrls,
    exchange: config.amqpExchange,
    shownDatabaseUrl: redactUrl(config.databaseUrl),
    systemUrl: localUrl(config),
    log: createLogger('silent'),
  });
  for (const f of findings) out(`${f.ok ? (f.warning ? '!' : '✓') : '✗'} ${f.check.padEnd(13)} ${f.detail}`);
  const failed = findings.filter((f) => !f.ok);
  out(failed.length === 0 ? 'all checks passed' : `${failed.length} problem(s) found`);
  return failed.length === 0 ? 0 : 1;
}

/** parseArgs options for flags that each take one value. */
function stringOptions<N extends string>(...names: N[]): Record<N, { type: 'string' }> {
  return Object.fromEntries(names.map((name) => [name, { type: 'string' }])) as Record<N, { type: 'string' }>;
}
