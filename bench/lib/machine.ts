// The machine a run measured on, and the load on it while it did: benchmark figures mean nothing
// without them (this box is shared with other engineers' test runs).

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import pg from 'pg';
import { rabbitmqVersion } from './broker.js';
import type { BenchSettings } from './settings.js';

export interface Machine {
  nproc: number;
  memoryGiB: number;
  cpuModel: string;
  os: string;
  node: string;
  postgres: string;
  pgbench: string;
  rabbitmq: string;
}

export interface LoadSample {
  loadavg1: number;
  /** Processes of other test runs (vitest) alive at the time. */
  vitestProcesses: number;
}

export async function describeMachine(settings: BenchSettings): Promise<Machine> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.availableParallelism(),
    memoryGiB: os.totalmem() / 1024 ** 3,
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
    postgres: await postgresVersion(settings.adminUrl),
    pgbench: await commandVersion('pgbench', ['--version']),
    rabbitmq: await rabbitmqVersion(settings.rabbitmqUrl).catch(
      (e: unknown) => `RabbitMQ (unknown: ${String(e)})`,
    ),
  };
}

export function sampleLoad(): LoadSample {
  let vitest = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('vitest')) vitest++;
    } catch {
      // gone meanwhile
    }
  }
  return { loadavg1: os.loadavg()[0]!, vitestProcesses: vitest };
}

/** The commit measured, with "+changes" when src/ or migrations/ differ from it. */
export async function codeRevision(cwd: string): Promise<string> {
  const git = (args: string[]) => promisify(execFile)('git', args, { cwd }).then((r) => r.stdout.trim());
  try {
    const head = await git(['rev-parse', '--short', 'HEAD']);
    const changed = await git(['status', '--porcelain', '--', 'src', 'migrations']);
    return changed ? `${head}+changes (${changed.split('\n').length} files in src/ or migrations/)` : head;
  } catch {
    return 'unknown (no git)';
  }
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return `PostgreSQL ${rows[0]?.server_version ?? '?'}`;
  } finally {
    await client.end();
  }
}

async function commandVersion(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(command, args);
    return stdout.trim();
  } catch {
    return `${command} (not found)`;
  }
}
