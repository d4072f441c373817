// What the fault matrices leave behind. Each suite (the single broker node of scenarios.chaos.ts,
// the broker cluster behind HAProxy of broker-cluster.chaos.ts) keeps its last run of each profile
// as test-output/chaos/<suite>.<profile>.json; docs/chaos-results.md is rendered from the long
// runs found there, one section per suite, so a long run of either updates its own table and
// keeps the other's. scripts/chaos-series.ts reads the single-node run from reports.json.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { projectPath } from '../../src/paths.js';
import type { ScenarioReport } from './verify.js';

export type ChaosSuite = 'single-node' | 'broker-cluster' | 'postgres';
export type ChaosProfile = 'short' | 'long';
const SUITES: readonly ChaosSuite[] = ['single-node', 'broker-cluster', 'postgres'];
/** Each suite's section heading in docs/chaos-results.md. */
const TITLES: Record<ChaosSuite, string> = {
  'single-node': '## One RabbitMQ node',
  'broker-cluster': '## A RabbitMQ cluster of three nodes, gateways behind HAProxy',
  postgres: '## PostgreSQL itself fails: a private primary behind a TCP proxy',
};

/** One run of one suite's fault matrix. */
export interface MatrixRun {
  /** Absent in reports written before there were two suites: the single-node matrix. */
  suite?: ChaosSuite;
  profile?: ChaosProfile;
  rate: number;
  loadMs: number;
  startedAt: string;
  reports: ScenarioReport[];
}

const OUTPUT = projectPath('test-output', 'chaos');
const RESULTS = projectPath('docs', 'chaos-results.md');

/**
 * Keeps the run under test-output/chaos/; after a long run (not one of a series, which writes
 * its own document), renders docs/chaos-results.md from every suite's last long run.
 */
export function saveRun(run: MatrixRun & { suite: ChaosSuite; profile: ChaosProfile }): void {
  mkdirSync(OUTPUT, { recursive: true });
  const json = `${JSON.stringify(run, null, 2)}\n`;
  writeFileSync(`${OUTPUT}/${run.suite}.${run.profile}.json`, json);
  if (run.suite === 'single-node') writeFileSync(`${OUTPUT}/reports.json`, json);
  if (run.profile === 'long' && !process.env.CHAOS_SERIES && run.reports.length > 0)
    writeResults(resultsMarkdown(lastLongRuns(), existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : ''));
}

/**
 * The sections of `markdown` (docs/chaos-results.md as it is) by suite: a suite whose long run
 * this checkout has not kept (test-output/ is not committed) keeps its section as it was.
 */
function sectionsOf(markdown: string): Partial<Record<ChaosSuite, string[]>> {
  const sections: Partial<Record<ChaosSuite, string[]>> = {};
  for (const part of markdown.split(/^(?=## )/m)) {
    const suite = SUITES.find((s) => part.startsWith(`${TITLES[s]}\n`));
    if (suite) sections[suite] = part.trimEnd().split('\n').concat('');
  }
  return sections;
}

/** Each suite's last long run that left a report, single node first. */
export function lastLongRuns(): MatrixRun[] {
  return SUITES.map((suite) => `${OUTPUT}/${suite}.long.json`)
    .filter((file) => existsSync(file))
    .map((file) => JSON.parse(readFileSync(file, 'utf8')) as MatrixRun);
}

/** Writes docs/chaos-results.md, its tables aligned as the formatter wants (`npm run lint` stays clean). */
function writeResults(markdown: string): void {
  writeFileSync(RESULTS, markdown);
  spawnSync(process.execPath, ['node_modules/@biomejs/biome/bin/biome', 'format', '--write', RESULTS], {
    cwd: projectPath(),
  });
}

const SCENARIO_HEADER = [
  '| scenario | written | confirmed | failed writes | delivered (per observer) | lost | duplicates | max lag (ms) | integration repeats |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];

function scenarioRows(reports: ScenarioReport[]): string[] {
  return reports.map(
    (r) =>
      `| ${r.scenario} | ${r.written} | ${r.confirmedChanges} | ${r.failedWrites} | ${r.delivered.join(' / ')} | ${r.lost} | ${r.duplicates} | ${r.maxLagMs} | ${r.integrationRepeats ?? '–'} |`,
  );
}

/** What each scenario's fault hit, where the run recorded it (the broker cluster's node names). */
function details(reports: ScenarioReport[]): string[] {
  const lines = reports.filter((r) => r.detail).map((r) => `- ${r.scenario}: ${r.detail}`);
  return lines.length > 0 ? ['', ...lines] : [];
}

const MACHINE = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

const LEGEND = [
  '"written" counts events in the change log; "confirmed" the changes whose commit the writers saw',
  'confirmed (all of them must be in the log); "failed writes" were refused or cut off by the fault.',
  'An integration queue bound to the per-event exchange must hold every position at least once;',
  '"integration repeats" counts its extra copies (a takeover republishes from the cursor).',
];

function setupLines(run: Pick<MatrixRun, 'rate' | 'loadMs'>, how: string): string[] {
  return [
    `${how}: ${MACHINE}.`,
    `Each scenario: two api+gateway processes, two bridges, a writer load aimed at ${run.rate} changes/s`,
    `for ${run.loadMs / 1000} s (half direct SQL, half REST API), four observers built on the client library`,
    '(two `events()`, two `liveOrders()`); one fault; then a quiet period and the checks of test/chaos/verify.ts.',
    ...LEGEND,
  ];
}

function clusterSetupLines(run: MatrixRun, how: string): string[] {
  return [
    `${how}: ${MACHINE}.`,
    "Each scenario: a RabbitMQ cluster of three nodes (Debian's rabbitmq-server, joined with",
    '`rabbitmqctl join_cluster`; every process is given the three URLs, starting on different nodes),',
    'HAProxy in front of two api+gateway processes (round robin, websockets, /readyz checked every 500 ms),',
    `two bridges; a writer load aimed at ${run.rate} changes/s for ${run.loadMs / 1000} s (half direct SQL, half REST API`,
    'through HAProxy), four observers built on the client library (two `events()`, two `liveOrders()`) given',
    "HAProxy's address only; one fault; then a quiet period and the checks of test/chaos/verify.ts. The",
    'integration queue is a quorum queue, consumed through one node at a time.',
    ...LEGEND,
  ];
}

function postgresSetupLines(run: MatrixRun, how: string): string[] {
  return [
    `${how}: ${MACHINE}.`,
    "Each scenario: PostgreSQL clusters of the test's own (Debian's postgresql-common, test/chaos/pg-cluster.ts)",
    'that the system reaches through a TCP proxy in the test process (re-targeted at a failover); two',
    'api+gateway processes and two bridges, which keep running and reconnect by themselves; rounds of a',
    `writer load aimed at ${run.rate} changes/s for ${run.loadMs / 1000} s (half direct SQL through the proxy, half REST API),`,
    'four observers built on the client library (two `events()`, two `liveOrders()`), an integration queue',
    'on the per-event exchange. In each round one fault, given once a probe sees positions numbered and not',
    'yet confirmed; then the checks of test/chaos/verify.ts after every round, and each position every',
    'observer and the integration queue was delivered compared with the event the log names there',
    '(test/chaos/pg-faults.ts). The counts below are the whole scenario’s. The times run from the crash',
    'command to the database taking connections again (started, or promoted and the proxy re-targeted), a',
    'bridge leading, every gateway’s API reading orders, and every observer delivered an event captured',
    'after the database was up again (the test writes one then, should the round’s load have ended).',
    ...LEGEND,
  ];
}

/** The run in one line: faults, events, and what the observers got wrong (nothing, or the test failed). */
function postgresSummary(reports: ScenarioReport[]): string {
  const sum = (f: (r: ScenarioReport) => number) => reports.reduce((total, r) => total + f(r), 0);
  return (
    `**${sum((r) => r.faults ?? 1)} faults in ${reports.length} scenarios, ${sum((r) => r.written)} events ` +
    `written: ${sum((r) => r.lost)} lost, ${sum((r) => r.duplicates)} delivered twice, ${sum((r) => r.resyncs)} ` +
    'resyncs; every position delivered still named the same event in the log afterwards.**'
  );
}

function section(run: MatrixRun, how: string): string[] {
  const when = `${how} on ${run.startedAt.slice(0, 10)}`;
  if (run.suite === 'postgres')
    return [
      TITLES.postgres,
      '',
      ...postgresSetupLines(run, when),
      '',
      postgresSummary(run.reports),
      '',
      ...SCENARIO_HEADER,
      ...scenarioRows(run.reports),
      ...details(run.reports),
      '',
    ];
  return run.suite === 'broker-cluster'
    ? [
        TITLES['broker-cluster'],
        '',
        ...clusterSetupLines(run, when),
        '',
        ...SCENARIO_HEADER,
        ...scenarioRows(run.reports),
        ...details(run.reports),
        '',
      ]
    : [
        TITLES['single-node'],
        '',
        ...setupLines(run, when),
        '',
        ...SCENARIO_HEADER,
        ...scenarioRows(run.reports),
        '',
      ];
}

/**
 * docs/chaos-results.md from each suite's last long run: one row per scenario, with the machine.
 * A suite without a run here keeps its section of `current` (the document as it is).
 */
export function resultsMarkdown(runs: MatrixRun[], current = ''): string {
  const kept = sectionsOf(current);
  const how = 'Run by `npm run test:chaos` (CHAOS_PROFILE=long)';
  return [
    '# Fault matrix: last results',
    '',
    ...SUITES.flatMap((suite) => {
      const run = runs.find((r) => (r.suite ?? 'single-node') === suite);
      return run ? section(run, how) : (kept[suite] ?? []);
    }),
  ].join('\n');
}

/**
 * docs/chaos-results.md after a series of runs: a line per run, then every run's scenarios (of
 * the single-node matrix, which scripts/chaos-series.ts collects), then the broker cluster's
 * matrix as the series' last run left it.
 */
export function seriesMarkdown(
  runs: { run: MatrixRun | null; passed: boolean; seconds: number }[],
  scenarios: number,
  commit: string,
  brokerCluster: MatrixRun | undefined = lastLongRuns().find((r) => r.suite === 'broker-cluster'),
): string {
  const sum = (f: (r: ScenarioReport) => number) => (run: MatrixRun | null) =>
    (run?.reports ?? []).reduce((total, r) => total + f(r), 0);
  const lost = sum((r) => r.lost);
  const duplicates = sum((r) => r.duplicates);
  const written = sum((r) => r.written);
  const passed = runs.filter((r) => r.passed).length;
  const first = runs.find((r) => r.run)?.run ?? { rate: 0, loadMs: 0, startedAt: new Date().toISOString() };
  // The broker cluster's run belongs to this series when it started after the series did.
  const seriesStarted = Date.parse(first.startedAt) - (runs[0]?.seconds ?? 0) * 1000;
  const cluster =
    brokerCluster && Date.parse(brokerCluster.startedAt) >= seriesStarted ? brokerCluster : undefined;
  const how = `${runs.length} runs in a row by \`npm run test:chaos:series\` (CHAOS_PROFILE=long), from ${first.startedAt.slice(0, 10)}`;
  return [
    '# Fault matrix: results of a series of runs',
    '',
    ...setupLines(first, how),
    '',
    `The code under test: commit ${commit}.`,
    '',
    `**${passed} of ${runs.length} runs passed** (both matrices); lost ${runs.reduce((t, r) => t + lost(r.run), 0)}, duplicates ` +
      `${runs.reduce((t, r) => t + duplicates(r.run), 0)} across every single-node scenario of every run.`,
    '',
    '| run | started (UTC) | result | scenarios passed | events written | lost | duplicates | minutes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map(
      (r, i) =>
        `| ${i + 1} | ${r.run?.startedAt.slice(11, 19) ?? '–'} | ${r.passed ? 'passed' : 'FAILED'} | ` +
        `${r.run?.reports.length ?? 0} of ${scenarios} | ${written(r.run)} | ${lost(r.run)} | ${duplicates(r.run)} | ` +
        `${(r.seconds / 60).toFixed(1)} |`,
    ),
    '',
    ...runs.flatMap((r, i) => [
      `## Run ${i + 1}`,
      '',
      ...SCENARIO_HEADER,
      ...scenarioRows(r.run?.reports ?? []),
      '',
    ]),
    ...(cluster ? section(cluster, 'The last run of the series') : []),
  ].join('\n');
}
