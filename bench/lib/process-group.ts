// Child processes of a benchmark run: `node --import tsx <script>` started directly (so a signal,
// SIGKILL included, reaches the program itself), JSON log lines collected for waiting on, and
// every child killed when the group is stopped or the run exits, however it exits.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Kept from a child's output for error messages. */
const OUTPUT_TAIL_CHARS = 4_000;

export interface ChildHandle {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Parsed JSON lines of stdout so far. */
  readonly logs: Record<string, unknown>[];
  /** The last few thousand characters of stdout and stderr. */
  output(): string;
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  /** Sends the signal (SIGTERM by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface SpawnOptions {
  /** Environment over PATH and HOME only. */
  env?: Record<string, string>;
  /** An IPC channel with structured-clone serialization (typed arrays, Maps). */
  ipc?: boolean;
  /** The directory the script is relative to and runs in. @default ROOT */
  cwd?: string;
}

export interface ProcessGroup {
  spawn(name: string, script: string, args: string[], options?: SpawnOptions): ChildHandle;
  /** SIGTERM, then SIGKILL for whatever has not exited within `graceMs`. */
  stopAll(graceMs?: number): Promise<void>;
  /** SIGKILL to every child at once, synchronously (for exit handlers). */
  killAllNow(): void;
}

export function createProcessGroup(): ProcessGroup {
  const children = new Set<ChildHandle>();
  return {
    spawn(name, script, args, options = {}) {
      const handle = spawnChild(name, script, args, options);
      children.add(handle);
      void handle.exited.then(() => children.delete(handle));
      return handle;
    },
    async stopAll(graceMs = 5_000) {
      await Promise.all(
        [...children].map(async (c) => {
          const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
          await c.kill('SIGTERM');
          clearTimeout(timer);
        }),
      );
    },
    killAllNow() {
      for (const c of children) if (c.running) c.child.kill('SIGKILL');
    },
  };
}

function spawnChild(name: string, script: string, args: string[], options: SpawnOptions): ChildHandle {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    serialization: options.ipc ? 'advanced' : 'json',
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${script}`);
  const logs: Record<string, unknown>[] = [];
  let tail = '';
  let partial = '';
  const keep = (text: string) => {
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    keep(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => keep(chunk.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const handle: ChildHandle = {
    name,
    child,
    pid: child.pid,
    logs,
    exited,
    output: () => tail,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    waitForLog(match, what, timeoutMs = 30_000) {
      return waitFor(
        () => {
          if (!handle.running) throw new Error(`${name} exited; output:\n${tail}`);
          return logs.find(match);
        },
        { timeoutMs, what: `${name}: ${what}` },
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\n--- ${name} output ---\n${tail}`);
      });
    },
    async kill(signal = 'SIGTERM') {
      if (handle.running) child.kill(signal);
      await exited;
    },
  };
  return handle;
}
