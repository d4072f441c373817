// The benchmark harness behind `npm run bench [-- <name> …]`: runs the named benchmarks (all by
// default) one after another, each with its own database and exchange, prints a table per
// benchmark on stdout and progress on stderr, and writes JSON and Markdown under bench/results/.
// Child processes are killed and databases dropped at the end, also when a benchmark fails.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { baseline } from './baseline.js';
import { bulk } from './bulk.js';
import { captureCost } from './capture-cost.js';
import { e2eLatency } from './e2e-latency.js';
import { failover } from './failover.js';
import { fanout } from './fanout.js';
import type { BenchContext, Benchmark } from './lib/benchmark.js';
import { codeRevision, describeMachine, sampleLoad } from './lib/machine.js';
import { createProcessGroup, type ProcessGroup, ROOT } from './lib/process-group.js';
import { createProgress } from './lib/progress.js';
import { type BenchResult, renderResultText, writeReports } from './lib/report.js';
import { type BenchSettings, loadBenchSettings } from './lib/settings.js';
import { relay } from './relay.js';
import { throughput } from './throughput.js';

// baseline right after e2e-latency: their side-by-side table compares runs minutes apart, not more.
const BENCHMARKS: readonly Benchmark[] = [
  captureCost,
  e2eLatency,
  baseline,
  bulk,
  relay,
  throughput,
  fanout,
  failover,
];

const USAGE = `usage: npm run bench [-- [--quick] [name …]]

Runs every benchmark, or the named ones, in this order:
${BENCHMARKS.map((b) => `  ${b.name.padEnd(14)} ${b.title}`).join('\n')}

  --quick   shorter runs, for working on the harness (not for BENCHMARKS.md)

Reports: stdout (tables), stderr (progress), bench/results/<time>.{json,md} and latest.{json,md}.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { quick: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const unknown = positionals.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.join(', ')}\n\n${USAGE}`);
    return 2;
  }
  const selected =
    positionals.length > 0 ? BENCHMARKS.filter((b) => positionals.includes(b.name)) : BENCHMARKS;
  const settings = loadBenchSettings();
  const processes = createProcessGroup();
  installExitHandlers(processes);
  const started = new Date();
  const progress = createProgress('run');
  progress(`benchmarks: ${selected.map((b) => b.name).join(', ')}${values.quick ? ' (quick)' : ''}`);
  const machine = await describeMachine(settings);
  const revisionAtStart = await codeRevision(ROOT);
  const results = new Map<string, BenchResult>();
  for (const benchmark of selected) {
    const result = await runOne(benchmark, {
      settings,
      processes,
      quick: values.quick ?? false,
      earlier: results,
    });
    results.set(benchmark.name, result);
    process.stdout.write(`\n${renderResultText(result)}`);
  }
  await processes.stopAll();
  const files = await writeReports(
    {
      startedAt: started.toISOString(),
      command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
      wallSeconds: (Date.now() - started.getTime()) / 1000,
      machine,
      revision: { start: revisionAtStart, end: await codeRevision(ROOT) },
      quick: values.quick ?? false,
      results: [...results.values()],
    },
    join(ROOT, 'bench', 'results'),
  );
  progress(`done in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; reports: ${files.join(', ')}`);
  return [...results.values()].some((r) => r.error) ? 1 : 0;
}

async function runOne(
  benchmark: Benchmark,
  shared: {
    settings: BenchSettings;
    processes: ProcessGroup;
    quick: boolean;
    earlier: Map<string, BenchResult>;
  },
): Promise<BenchResult> {
  const cleanups: (() => unknown)[] = [];
  const progress = createProgress(benchmark.name);
  const context: BenchContext = { ...shared, progress, defer: (fn) => cleanups.push(fn) };
  const load = { start: sampleLoad(), end: sampleLoad() };
  const started = performance.now();
  const result: BenchResult = {
    name: benchmark.name,
    title: benchmark.title,
    method: [],
    tables: [],
    targets: [],
    notes: [],
    data: null,
    seconds: 0,
    load,
  };
  progress('start');
  try {
    Object.assign(result, await benchmark.run(context));
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    progress(`FAILED: ${result.error}`);
  } finally {
    load.end = sampleLoad();
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (e) {
        progress(`cleanup failed: ${String(e)}`);
      }
    }
  }
  result.seconds = (performance.now() - started) / 1000;
  progress(`done in ${result.seconds.toFixed(0)} s`);
  return result;
}

/** Children die with the run, whatever ends it; bench databases are dropped by the next run. */
function installExitHandlers(processes: ProcessGroup): void {
  process.on('exit', () => processes.killAllNow());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      processes.killAllNow();
      process.exit(130);
    });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
