// The real CLI as a child process (node + tsx, one process, so a signal reaches it directly),
// with its JSON log lines collected for waiting on.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { toError } from '../../src/lib/errors.js';
import { RABBITMQ_URL } from './names.js';
import { waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The CLI's environment on a test's database and exchange (the template is migrated already). */
export function cliEnv(
  db: { url: string },
  exchange: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    RABBITMQ_URL,
    AMQP_EXCHANGE: exchange,
    MIGRATE_ON_START: 'false',
    HOST: '127.0.0.1',
    ...extra,
  };
}
const children = new Set<CliProcess>();

export interface CliProcess {
  readonly child: ChildProcess;
  /** Parsed JSON log lines (stdout) so far. */
  readonly logs: Record<string, unknown>[];
  /** Everything the process printed (stdout and stderr). */
  output(): string;
  /** What it printed on stdout alone. */
  stdout(): string;
  /** Waits for a log line matching `match` (an object whose entries must all be equal). */
  waitForLog(match: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends the signal and waits for the exit; returns the exit code (or the signal's name). */
  kill(signal?: NodeJS.Signals): Promise<number | string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `orders-live <args>` with `env` over a clean environment; killed after the file. */
export function startCli(args: string[], env: Record<string, string>): CliProcess {
  return startNode(['--import', 'tsx', 'src/main.ts', ...args], env);
}

/**
 * Starts `node <argv>` in the project's root (or `cwd`), as startCli does (an example program,
 * say).
 */
export function startNode(argv: string[], env: Record<string, string>, cwd = ROOT): CliProcess {
  const child = spawn(process.execPath, argv, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let text = '';
  let out = '';
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    out += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  /** Every line of its output is in: the streams closed after the exit. */
  const closed = once(child, 'close').catch(() => undefined);
  const exited = once(child, 'exit').then(
    ([code, signal]) => ({ code, signal }) as { code: number | null; signal: NodeJS.Signals | null },
  );
  const proc: CliProcess = {
    child,
    logs,
    exited,
    output: () => text,
    stdout: () => out,
    waitForLog(match, timeoutMs = 15_000) {
      const what = `log ${JSON.stringify(match)}`;
      const found = () => logs.find((l) => Object.entries(match).every(([k, v]) => l[k] === v));
      // A process that ended without the line fails the wait at once (a port taken, a bad
      // setting), not at the timeout; either way the error carries its output as it is then.
      const ended = closed.then(
        () => found() ?? Promise.reject(new Error(`the process ended before ${what}`)),
      );
      return Promise.race([waitFor(found, { timeoutMs, what }), ended]).catch((e: unknown) => {
        throw new Error(`${toError(e).message}; output:\n${text.slice(-2000)}`);
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const { code, signal: by } = await exited;
      children.delete(proc);
      return code ?? by ?? 'unknown';
    },
  };
  children.add(proc);
  return proc;
}

afterAll(async () => {
  await Promise.all([...children].map((c) => c.kill('SIGKILL')));
});

// Last resort, should the worker exit without running afterAll (a failed hook before it, a
// timeout): a child never outlives the test process.
process.once('exit', () => {
  for (const c of children) c.child.kill('SIGKILL');
});
