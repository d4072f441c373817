// `npm run test:chaos:series -- [runs]`: the long fault matrix several times in a row (default
// 10), each run in a fresh vitest process, one after the other (the matrix needs the machine to
// itself). docs/chaos-results.md then records every run: a line each, and every scenario of each.
// Exits non-zero when any run failed. Progress goes to stderr, a line per run.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type MatrixRun, seriesMarkdown } from '../test/chaos/verify.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPORTS = `${ROOT}test-output/chaos/reports.json`;
const RESULTS = `${ROOT}docs/chaos-results.md`;

/** The commit under test, with "+ changes" when the work tree differs from it. */
function commit(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  return git('status', '--porcelain', '--untracked-files=no') ? `${head} + uncommitted changes` : head;
}
/** The matrix's scenarios, for "n of 8 passed" when a run stops early. */
const SCENARIOS = 8;

function usage(message: string): never {
  console.error(`chaos-series: ${message} (usage: npm run test:chaos:series -- [runs, 1–100])`);
  process.exit(2);
}

async function runMatrix(): Promise<{ passed: boolean; run: MatrixRun | null; seconds: number }> {
  rmSync(REPORTS, { force: true });
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['node_modules/vitest/vitest.mjs', 'run', '-c', 'vitest.chaos.config.ts'],
    {
      cwd: ROOT,
      env: { ...process.env, CHAOS_PROFILE: 'long', CHAOS_SERIES: '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const run = existsSync(REPORTS) ? (JSON.parse(readFileSync(REPORTS, 'utf8')) as MatrixRun) : null;
  return { passed: code === 0, run, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<number> {
  const arg = process.argv[2] ?? '10';
  if (!/^\d+$/.test(arg) || Number(arg) < 1 || Number(arg) > 100) usage(`"${arg}" is not a number of runs`);
  const count = Number(arg);
  const under = commit(); // before this series writes its results into the tree
  const runs: Awaited<ReturnType<typeof runMatrix>>[] = [];
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
  });
  for (let i = 1; i <= count && !stop; i++) {
    const result = await runMatrix();
    runs.push(result);
    const reports = result.run?.reports ?? [];
    const lost = reports.reduce((t, r) => t + r.lost, 0);
    const duplicates = reports.reduce((t, r) => t + r.duplicates, 0);
    console.error(
      `[chaos-series] run ${i}/${count}: ${result.passed ? 'passed' : 'FAILED'} in ${(result.seconds / 60).toFixed(1)} min, ` +
        `${reports.length}/${SCENARIOS} scenarios, lost ${lost}, duplicates ${duplicates}`,
    );
    writeFileSync(RESULTS, seriesMarkdown(runs, SCENARIOS, under));
    // Tables aligned as the formatter wants them, so that `npm run lint` stays clean.
    spawnSync(process.execPath, ['node_modules/@biomejs/biome/bin/biome', 'format', '--write', RESULTS], {
      cwd: ROOT,
    });
  }
  return runs.every((r) => r.passed) && runs.length === count ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
});
