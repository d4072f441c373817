// No test run, passing or failing, leaves a process behind. An e2e file is run on its own (a
// vitest inside this one) with a "Chromium" that exists but cannot start, so it fails after the
// system it starts is running; afterwards no process may still carry that run's databases.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { TEST_DB_PREFIX } from '../helpers/names.js';

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
  let output = '';
  run.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  run.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));
  // It failed where it should: at the browser, with the system already started.
  expect(code, output.slice(-3000)).not.toBe(0);
  expect(output).toMatch(/Failed to launch|browserType\.launchPersistentContext/);
  expect(output).not.toMatch(/leaked a pool/);
  // Every database of that run is named after its pid: nothing may still point at one.
  expect(processesWith(`${TEST_DB_PREFIX}${run.pid}_`)).toEqual([]);
}, 120_000);
