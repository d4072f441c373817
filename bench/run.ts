// The benchmark harness behind `npm run bench [-- <name> …]`: runs the named benchmarks (all by
// default) one after another, each with its own database and exchange, prints a table per
// benchmark on stdout and progress on stderr, and writes JSON, Markdown and SVG charts under
// bench/results/. Child processes are killed and databases dropped at the end, also when a
// benchmark fails. `--charts-from <report.json>` runs nothing and redraws an earlier run's charts.

import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { bulk } from './bulk.js';
import { captureCost } from './capture-cost.js';
import { e2eLatency } from './e2e-latency.js';
import { failover } from './failover.js';
import { fanout } from './fanout.js';
import type { BenchContext, Benchmark } from './lib/benchmark.js';
import { renderRunCharts } from './lib/charts.js';
import { codeRevision, describeMachine, sampleLoad } from './lib/machine.js';
import { createProcessGroup, type ProcessGroup, ROOT } from './lib/process-group.js';
import { createProgress } from './lib/progress.js';
import {
  type BenchResult,
  type RunReport,
  renderResultText,
  writeCharts,
  writeReports,
} from './lib/report.js';
import { type BenchSettings, loadBenchSettings } from './lib/settings.js';
import { relay } from './relay.js';
import { throughput } from './throughput.js';

const BENCHMARKS: readonly Benchmark[] = [captureCost, e2eLatency, bulk, relay, throughput, fanout, failover];

const USAGE = `usage: npm run bench [-- [--quick] [name …]]
       npm run bench -- --charts-from <report.json> [--charts-out <dir>]

Runs every benchmark, or the named ones, in this order:
${BENCHMARKS.map((b) => `  ${b.name.padEnd(14)} ${b.title}`).join('\n')}

  --quick                shorter runs, for working on the harness (not for BENCHMARKS.md)
  --charts-from <file>   run nothing: redraw the charts of that report as <its name>-<chart>.svg,
                         beside it or in --charts-out <dir>

Reports: stdout (tables), stderr (progress), bench/results/<time>.{json,md} and latest.{json,md},
charts bench/results/<time>-<chart>.svg and latest-<chart>.svg (latency, throughput, capture-cost).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
      'charts-from': { type: 'string' },
      'charts-out': { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const chartsOnly = values['charts-from'] !== undefined || values['charts-out'] !== undefined;
  if (chartsOnly && (values['charts-from'] === undefined || positionals.length > 0 || values.quick)) {
    console.error(`bench: --charts-from <report.json> runs no benchmark; --charts-out needs it\n\n${USAGE}`);
    return 2;
  }
  if (chartsOnly) return chartsFrom(values['charts-from']!, values['charts-out']);
  const unknown = positionals.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.join(', ')}\n\n${USAGE}`);
    return 2;
  }
  const selected =
    positionals.length > 0 ? BENCHMARKS.filter((b) => positionals.includes(b.name)) : BENCHMARKS;
  return runBenchmarks(selected, values.quick ?? false, argv);
}

/** Runs `selected` in order and writes the reports; 1 when one of them failed. */
async function runBenchmarks(
  selected: readonly Benchmark[],
  quick: boolean,
  argv: string[],
): Promise<number> {
  const settings = loadBenchSettings();
  const processes = createProcessGroup();
  installExitHandlers(processes);
  const started = new Date();
  const progress = createProgress('run');
  progress(`benchmarks: ${selected.map((b) => b.name).join(', ')}${quick ? ' (quick)' : ''}`);
  const machine = await describeMachine(settings);
  const revisionAtStart = await codeRevision(ROOT);
  const results = new Map<string, BenchResult>();
  for (const benchmark of selected) {
    const result = await runOne(benchmark, { settings, processes, quick, earlier: results });
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
      quick,
      results: [...results.values()],
    },
    join(ROOT, 'bench', 'results'),
  );
  progress(`done in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; reports: ${files.join(', ')}`);
  return [...results.values()].some((r) => r.error) ? 1 : 0;
}

/** Redraws the charts of an earlier report; prints each file with its size. */
async function chartsFrom(file: string, outDir: string | undefined): Promise<number> {
  const run = JSON.parse(await readFile(file, 'utf8')) as RunReport;
  if (!Array.isArray(run?.results)) {
    console.error(`bench: ${file} is not a report of npm run bench (it has no results)`);
    return 2;
  }
  const files = await writeCharts(renderRunCharts(run), outDir ?? dirname(file), basename(file, '.json'));
  for (const f of files) console.log(`${f}  ${((await stat(f)).size / 1024).toFixed(1)} KiB`);
  if (files.length === 0) console.error(`bench: ${file} holds none of the charted benchmarks`);
  return 0;
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
