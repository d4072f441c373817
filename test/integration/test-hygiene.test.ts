// No test run, passing or failing, leaves a process behind. An e2e file is run on its own (a
// vitest inside this one) with a "Chromium" that exists but cannot start, so it fails after the
// system it starts is running; afterwards no process may still carry that run's databases. A run
// killed outright cleans nothing up: the PostgreSQL cluster it made is dropped by the next run's
// setup.

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { listPgClusters, removePgClustersOfRuns } from '../chaos/postgresql-common.js';
import { TEST_DB_PREFIX } from '../helpers/names.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Pids of processes whose environment mentions `needle` (a database name of one test run). */
function processesWith(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(needle)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

it('an e2e file that fails after starting the system leaves no process behind', async () => {
  const run = spawn(
    process.execPath,
    ['node_modules/vitest/vitest.mjs', 'run', '--project', 'integration', 'test/e2e/dashboard-live.test.ts'],
    {
      cwd: ROOT,
      env: { ...process.env, CHROMIUM_PATH: '/bin/false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = outputOf(run);
  const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));
  // It failed where it should: at the browser, with the system already started.
  expect(code, output().slice(-3000)).not.toBe(0);
  expect(output()).toMatch(/Failed to launch|browserType\.launchPersistentContext/);
  expect(output()).not.toMatch(/leaked a pool/);
  // Every database of that run is named after its pid: nothing may still point at one.
  expect(processesWith(`${TEST_DB_PREFIX}${run.pid}_`)).toEqual([]);
}, 120_000);

it("a run killed while its PostgreSQL cluster runs: the next run's setup drops the cluster", async () => {
  const holder = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/pg-cluster-holder.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = outputOf(holder);
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  const ofHolder = (pid: number) => pid === holder.pid;
  try {
    const line = await waitFor(
      () => {
        if (holder.exitCode !== null) throw new Error(`the holder exited: ${output()}`);
        return output()
          .split('\n')
          .find((l) => l.startsWith('{'));
      },
      { timeoutMs: 30_000, intervalMs: 50, what: `the holder's cluster (output: ${output()})` },
    );
    const { name } = JSON.parse(line) as { name: string };
    holder.kill('SIGKILL');
    await exited;
    // The server outlives the run that made it…
    expect((await listPgClusters()).find((c) => c.name === name)).toMatchObject({ running: true });
    // …until the sweep the global setup runs for runs that are over.
    expect(await removePgClustersOfRuns(ofHolder)).toEqual([name]);
    expect((await listPgClusters()).map((c) => c.name)).not.toContain(name);
  } finally {
    holder.kill('SIGKILL');
    await removePgClustersOfRuns(ofHolder);
  }
}, 60_000);

/** What the child has written so far, stdout and stderr together. */
function outputOf(child: ChildProcess): () => string {
  let output = '';
  const add = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => output;
}
