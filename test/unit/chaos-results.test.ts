// docs/chaos-results.md as test/chaos/results.ts renders it: each suite's section from its last
// long run, and the section of a suite with no run here kept as the document had it (a checkout
// keeps no test-output/). Strings in, strings out: no I/O.

import { describe, expect, it } from 'vitest';
import { type MatrixRun, resultsMarkdown } from '../../test/chaos/results.js';
import type { ScenarioReport } from '../../test/chaos/verify.js';

function report(scenario: string, extra: Partial<ScenarioReport> = {}): ScenarioReport {
  return {
    scenario,
    written: 100,
    confirmedChanges: 100,
    failedWrites: 0,
    delivered: [100, 100],
    lost: 0,
    duplicates: 0,
    gaps: 0,
    gatewayRepeats: 0,
    gatewayGaps: 0,
    resyncs: 0,
    maxLagMs: 10,
    settleMs: 5,
    integrationRepeats: 0,
    ...extra,
  };
}

function run(suite: MatrixRun['suite'], reports: ScenarioReport[]): MatrixRun {
  return { suite, profile: 'long', rate: 1000, loadMs: 6000, startedAt: '2026-12-07T18:00:00.000Z', reports };
}

/** Its sections, each without the blank lines that separate it from the next. */
const sectionsOf = (markdown: string) =>
  markdown
    .split(/^(?=## )/m)
    .slice(1)
    .map((s) => s.trimEnd());

describe('resultsMarkdown', () => {
  const both = resultsMarkdown([
    run('single-node', [report('kill a bridge')]),
    run('broker-cluster', [report('stop a node')]),
  ]);

  it('keeps the sections of suites it has no run for, as the document had them', () => {
    const markdown = resultsMarkdown(
      [run('postgres', [report('crash the primary', { faults: 20, written: 2000, detail: '20 crashes' })])],
      both,
    );
    const sections = sectionsOf(markdown);
    expect(sections.map((s) => s.split('\n')[0])).toEqual([
      '## One RabbitMQ node',
      '## A RabbitMQ cluster of three nodes, gateways behind HAProxy',
      '## PostgreSQL itself fails: a private primary behind a TCP proxy',
    ]);
    expect(sections.slice(0, 2).join('')).toBe(sectionsOf(both).join(''));
    expect(sections[2]).toContain('| crash the primary | 2000 |');
    expect(sections[2]).toContain(
      '**20 faults in 1 scenarios, 2000 events written: 0 lost, 0 delivered twice',
    );
    expect(sections[2]).toContain('- crash the primary: 20 crashes');
  });

  it("replaces a suite's section with its new run and keeps the others", () => {
    const withPostgres = resultsMarkdown([run('postgres', [report('crash the primary')])], both);
    const markdown = resultsMarkdown([run('single-node', [report('restart everything')])], withPostgres);
    const sections = sectionsOf(markdown);
    expect(sections).toHaveLength(3);
    expect(sections[0]).toContain('| restart everything |');
    expect(sections[0]).not.toContain('kill a bridge');
    expect(sections.slice(1).join('')).toBe(sectionsOf(withPostgres).slice(1).join(''));
  });
});
