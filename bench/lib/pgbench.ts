// pgbench with a custom script (-f), no vacuum (-n), prepared statements, for a fixed time (-T);
// its own report is parsed for tps. Used where PostgreSQL alone is measured (capture-cost).

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface PgbenchOptions {
  databaseUrl: string;
  script: string;
  clients: number;
  seconds: number;
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  latencyMs: number;
}

export async function runPgbench({
  databaseUrl,
  script,
  clients,
  seconds,
}: PgbenchOptions): Promise<PgbenchResult> {
  const url = new URL(databaseUrl);
  const dir = await mkdtemp(join(tmpdir(), 'orders-live-pgbench-'));
  try {
    const file = join(dir, 'script.sql');
    await writeFile(file, script);
    const args = [
      ...['-h', url.hostname, '-p', url.port || '5432', '-U', decodeURIComponent(url.username || 'postgres')],
      ...['-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2))],
      ...['-T', String(seconds), '-f', file, decodeURIComponent(url.pathname.slice(1))],
    ];
    const env = {
      ...process.env,
      PGPASSWORD: decodeURIComponent(url.password),
      PGAPPNAME: 'orders-live-bench',
    };
    const { stdout } = await promisify(execFile)('pgbench', args, { env, timeout: (seconds + 60) * 1000 });
    return parse(stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function parse(stdout: string): PgbenchResult {
  const number = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? Number.NaN);
  const tps = number(/^tps = ([\d.]+)/m);
  if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return {
    tps,
    transactions: number(/number of transactions actually processed: (\d+)/),
    failed: number(/number of failed transactions: (\d+)/) || 0,
    latencyMs: number(/latency average = ([\d.]+) ms/),
  };
}
