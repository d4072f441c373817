// What a benchmark returns and how a run is reported: aligned text tables on stdout, and a JSON
// and a Markdown file under bench/results/ (the Markdown is what BENCHMARKS.md quotes), with SVG
// charts beside them that the Markdown embeds.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type RunChart, renderRunCharts } from './charts.js';
import type { LoadSample, Machine } from './machine.js';
import { fmtSpread, type Spread } from './stats.js';

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

/** A goal printed next to the result; a goal, not an assertion. */
export interface Target {
  what: string;
  goal: string;
  measured: string;
  /** null when the figure could not be measured. */
  met: boolean | null;
}

/** A target on a spread's median: at least (`≥`) or at most (`≤`) `bound`, the goal written "≥ 0.75× (issue 8)". */
export function medianTarget(
  what: string,
  op: '≥' | '≤',
  bound: number,
  why: string,
  measured: Spread,
): Target {
  return {
    what,
    goal: `${op} ${bound}×${why ? ` (${why})` : ''}`,
    measured: fmtSpread(measured),
    met: op === '≥' ? measured.median >= bound : measured.median <= bound,
  };
}

export interface BenchResult {
  name: string;
  title: string;
  /** How it was measured, one line each. */
  method: string[];
  tables: Table[];
  targets: Target[];
  /** Observations from the run itself (where the time goes, what was seen). */
  notes: string[];
  /** Every figure, for the JSON report. */
  data: unknown;
  seconds: number;
  /** Load when the benchmark started and ended. */
  load: { start: LoadSample; end: LoadSample };
  error?: string;
}

export interface RunReport {
  startedAt: string;
  command: string;
  wallSeconds: number;
  machine: Machine;
  /** The code measured, at the start and at the end of the run (children start in between). */
  revision: { start: string; end: string };
  /** `--quick` runs are shorter and not for BENCHMARKS.md. */
  quick: boolean;
  results: BenchResult[];
}

export function renderTableText(table: Table): string {
  const widths = table.columns.map((c, i) =>
    Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c ?? '').padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    table.title,
    line(table.columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...table.rows.map(line),
  ].join('\n');
}

export function renderResultText(result: BenchResult): string {
  const parts = [`== ${result.name}: ${result.title} (${result.seconds.toFixed(0)} s)`];
  if (result.error) parts.push(`FAILED: ${result.error}`);
  for (const table of result.tables) parts.push(renderTableText(table));
  if (result.targets.length > 0) parts.push(renderTableText(targetTable(result.targets)));
  for (const note of result.notes) parts.push(`- ${note}`);
  return `${parts.join('\n\n')}\n`;
}

function targetTable(targets: Target[]): Table {
  return {
    title: 'Targets (goals, not assertions)',
    columns: ['what', 'goal', 'measured', 'met'],
    rows: targets.map((t) => [t.what, t.goal, t.measured, t.met === null ? '?' : t.met ? 'yes' : 'NO']),
  };
}

function markdownTable(table: Table): string {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  return [
    `**${table.title}**`,
    '',
    `| ${table.columns.map(esc).join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** A chart as the Markdown embeds it: in its benchmark's section, by a path relative to the report. */
export interface ChartEmbed {
  section: string;
  alt: string;
  file: string;
}

export function renderMarkdown(run: RunReport, charts: readonly ChartEmbed[] = []): string {
  const m = run.machine;
  const out = [
    `# orders-live benchmarks, ${run.startedAt}`,
    '',
    `Command: \`${run.command}\`; wall time ${run.wallSeconds.toFixed(0)} s.${run.quick ? ' **Quick mode: not for BENCHMARKS.md.**' : ''}`,
    '',
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}; ` +
      `Node ${m.node}, ${m.postgres}, ${m.pgbench}, ${m.rabbitmq}.`,
    '',
    `Code: ${run.revision.start}${run.revision.end === run.revision.start ? '' : ` at the start, ${run.revision.end} at the end`}.`,
    '',
    'Load while measuring (1-min load average and other test runs seen, at the start and end of each benchmark):',
    '',
    ...run.results.map(
      (r) =>
        `- ${r.name}: load ${r.load.start.loadavg1.toFixed(2)} → ${r.load.end.loadavg1.toFixed(2)}, ` +
        `vitest processes ${r.load.start.vitestProcesses} → ${r.load.end.vitestProcesses}`,
    ),
  ];
  for (const r of run.results) {
    out.push('', `## ${r.name}: ${r.title}`, '', `${r.seconds.toFixed(0)} s.`);
    if (r.error) out.push('', `**FAILED**: ${r.error}`);
    if (r.method.length > 0) out.push('', ...r.method.map((l) => `- ${l}`));
    for (const t of r.tables) out.push('', markdownTable(t));
    for (const c of charts.filter((c) => c.section === r.name)) out.push('', `![${c.alt}](${c.file})`);
    if (r.targets.length > 0) out.push('', markdownTable(targetTable(r.targets)));
    if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `- ${n}`));
  }
  const elsewhere = charts.filter((c) => !run.results.some((r) => r.name === c.section));
  if (elsewhere.length > 0) out.push('', '## Charts', ...elsewhere.map((c) => `\n![${c.alt}](${c.file})`));
  return `${out.join('\n')}\n`;
}

/**
 * Writes `<stamp>.json`, `<stamp>.md` and `<stamp>-<chart>.svg`, and the same as latest.json,
 * latest.md and latest-<chart>.svg; each Markdown embeds the charts of its own prefix.
 */
export async function writeReports(run: RunReport, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const stamp = run.startedAt.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(run, null, 2)}\n`;
  const charts = renderRunCharts(run);
  const files = [join(dir, `${stamp}.json`), join(dir, `${stamp}.md`)];
  await writeFile(files[0]!, json);
  await writeFile(files[1]!, renderMarkdown(run, chartEmbeds(charts, stamp)));
  await writeFile(join(dir, 'latest.json'), json);
  await writeFile(join(dir, 'latest.md'), renderMarkdown(run, chartEmbeds(charts, 'latest')));
  files.push(...(await writeCharts(charts, dir, stamp)));
  await writeCharts(charts, dir, 'latest');
  return files;
}

/** Writes each chart as `<prefix>-<name>.svg` in `dir`; returns the paths. */
export async function writeCharts(
  charts: readonly RunChart[],
  dir: string,
  prefix: string,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const chart of charts) {
    const file = join(dir, chartFile(prefix, chart));
    await writeFile(file, chart.svg);
    files.push(file);
  }
  return files;
}

function chartFile(prefix: string, chart: RunChart): string {
  return `${prefix}-${chart.name}.svg`;
}

function chartEmbeds(charts: readonly RunChart[], prefix: string): ChartEmbed[] {
  return charts.map((c) => ({ section: c.section, alt: c.alt, file: chartFile(prefix, c) }));
}
