// The benchmark charts (bench/lib/charts.ts and the renderers under it): well-formed SVG, one series
// per pipeline, coordinates that follow the scales, and reports with missing or failed benchmarks
// drawn as "no data" or left out, never a throw. Strings in, strings out: no I/O.

import { describe, expect, it } from 'vitest';
import { renderCaptureCostChart } from '../../bench/lib/capture-cost-chart.js';
import { renderRunCharts } from '../../bench/lib/charts.js';
import { type LatencySeries, ninesX, renderLatencyChart } from '../../bench/lib/latency-chart.js';
import { type BenchResult, type RunReport, renderMarkdown } from '../../bench/lib/report.js';
import { linearTicks, logDomain, logTicks } from '../../bench/lib/svg.js';
import { renderThroughputChart } from '../../bench/lib/throughput-chart.js';

/** Fails unless every tag is closed in order, attributes are quoted and text holds no raw < or &. */
function expectWellFormed(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  const open: string[] = [];
  const tokens = svg.split(/(<[^>]*>)/).filter((t) => t !== '');
  for (const token of tokens) {
    if (!token.startsWith('<')) {
      expect(token, 'text').not.toMatch(/<|&(?!#\d+;|amp;|lt;|gt;|quot;)/);
      continue;
    }
    const tag = /^<(\/?)([a-zA-Z]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>$/.exec(token);
    expect(tag, `tag ${token}`).not.toBeNull();
    const [, closing, name, , selfClosing] = tag!;
    if (closing) expect(open.pop(), `closing ${name}`).toBe(name);
    else if (!selfClosing) open.push(name!);
  }
  expect(open).toEqual([]);
}

/** Attributes of every `<tag …>` in the SVG, numbers as numbers. */
function elements(svg: string, tag: string): Record<string, string>[] {
  return [...svg.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>`, 'g'))].map(
    (m) =>
      Object.fromEntries([...m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])) as Record<
        string,
        string
      >,
  );
}

const CAPTION = 'Run 2026-12-03 03:14 UTC · 2 CPUs';

function series(id: string, label: string, p50: number): LatencySeries {
  return {
    id,
    label,
    points: [50, 90, 99, 99.9].map((p, i) => ({ p, ms: p50 * 2 ** i })),
    maxMs: p50 * 16,
  };
}

describe('scales and ticks', () => {
  it('puts p50, p90, p99 and p99.9 one nine apart', () => {
    expect([90, 99, 99.9].map((p) => ninesX(p))).toEqual([1, 2, 3].map((x) => expect.closeTo(x, 9)));
    expect(ninesX(50)).toBeCloseTo(Math.log10(2), 9);
  });

  it('rounds a log domain out to 1, 2 or 5 × 10^k and ticks its decades', () => {
    expect(logDomain([0.18, 3, 310])).toEqual([0.1, 500]);
    expect(logTicks([0.1, 500])).toEqual([0.1, 1, 10, 100]);
    expect(logTicks([1, 50])).toEqual([1, 2, 5, 10, 20, 50]);
    expect(logDomain([Number.NaN, -1])).toEqual([1, 10]);
  });

  it('ticks a linear axis from 0 past the maximum in at most 7 intervals', () => {
    expect(linearTicks(10_500)).toEqual([0, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000]);
    expect(linearTicks(3_300)).toEqual([0, 500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_500]);
    expect(linearTicks(12_300)).toEqual([0, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 14_000]);
  });
});

describe('renderLatencyChart', () => {
  const input = {
    title: 'Latency <a & b>',
    caption: CAPTION,
    panels: [100, 1_000].map((rate) => ({
      rate,
      series: [
        series('(a)', 'orders-live', 4),
        series('(b)', 'naive trigger', 0.5),
        series('(c)', 'original', 1),
      ],
    })),
    floors: [{ label: 'idle commit p50', ms: 0.5 }],
  };

  it('is well-formed SVG with a title, a legend entry and a curve per pipeline in each panel', () => {
    const svg = renderLatencyChart(input);
    expectWellFormed(svg);
    expect(svg).toContain('Latency &#60;a &#38; b&#62;');
    for (const label of ['(a) orders-live', '(b) naive trigger', '(c) original', 'idle commit p50 0.50 ms']) {
      expect(svg).toContain(label);
    }
    const curves = elements(svg, 'polyline').filter((p) => p['stroke-width'] === '2');
    expect(curves).toHaveLength(6);
    expect(new Set(curves.map((c) => c.stroke)).size).toBe(3);
    expect(svg).toContain('(a) ÷ (b): p50 8.0×, p99 8.0×');
    expect(svg).toContain(CAPTION);
  });

  it('draws a value twice as large one log step higher, the same step each time', () => {
    const svg = renderLatencyChart({ ...input, panels: [{ rate: 100, series: [series('(a)', 'x', 1)] }] });
    const ys = elements(svg, 'circle')
      .map((c) => Number(c.cy))
      .filter((y) => y > 60); // not the legend's
    expect(ys).toHaveLength(5); // p50, p90, p99, p99.9 (1, 2, 4, 8 ms) and max (16 ms)
    const steps = ys.slice(1).map((y, i) => ys[i]! - y);
    for (const step of steps) expect(step).toBeCloseTo(steps[0]!, 0);
    expect(steps[0]).toBeGreaterThan(10);
  });

  it('skips missing points and draws "no data" when nothing was measured', () => {
    const holes: LatencySeries = { id: '(a)', label: 'x', points: [{ p: 50, ms: Number.NaN }], maxMs: 3 };
    const svg = renderLatencyChart({ ...input, panels: [{ rate: 100, series: [holes] }] });
    expectWellFormed(svg);
    expect(svg).not.toContain('NaN');
    const empty = renderLatencyChart({ ...input, panels: [] });
    expectWellFormed(empty);
    expect(empty).toContain('no data');
  });
});

describe('renderThroughputChart', () => {
  const attempt = (rate: number, p99: number, held: boolean) => ({
    phase: 'probe' as const,
    rate,
    seconds: 5,
    p50: p99 / 4,
    p99,
    max: p99 * 2,
    held,
  });

  it('marks each attempt held or not, on a log axis, against the limit', () => {
    const svg = renderThroughputChart({
      title: 'ladder',
      caption: CAPTION,
      limitMs: 1_000,
      attempts: [attempt(1_000, 10, true), attempt(2_000, 100, true), attempt(5_000, 1_000, false)],
    });
    expectWellFormed(svg);
    const dots = elements(svg, 'circle').filter((c) => Number(c.cy) > 60); // not the legend's
    expect(dots.map((d) => d.fill)).toEqual(['#009e73', '#009e73', '#d55e00']);
    const [a, b, c] = dots.map((d) => Number(d.cy));
    expect(a! - b!).toBeCloseTo(b! - c!, 0);
    expect(svg).toContain('limit 1,000 ms');
    expect(svg).toContain('5k/s');
    expect(svg).toContain('probes, 5 s each');
  });
});

describe('renderCaptureCostChart', () => {
  it('draws bar lengths in proportion to tps, with the ratio to no capture', () => {
    const bar = (id: string, median: number, kind: 'baseline' | 'pipeline') => ({
      id,
      label: id,
      kind,
      median,
      min: median * 0.9,
      max: median * 1.1,
      ratio: median / 2_000,
    });
    const svg = renderCaptureCostChart({
      title: 'capture',
      caption: CAPTION,
      groups: [{ title: '8 writers', bars: [bar('(a)', 2_000, 'baseline'), bar('(e)', 1_000, 'pipeline')] }],
    });
    expectWellFormed(svg);
    const bars = elements(svg, 'rect').filter((r) => r.height === '12');
    expect(bars).toHaveLength(2);
    expect(Number(bars[0]!.width)).toBeCloseTo(2 * Number(bars[1]!.width), 0);
    expect(svg).toContain('1,000 · 0.50×');
  });
});

function result(name: string, data: unknown, error?: string): BenchResult {
  const load = { loadavg1: 1, vitestProcesses: 0 };
  return {
    name,
    title: name,
    method: [],
    tables: [],
    targets: [],
    notes: [],
    data,
    seconds: 1,
    load: { start: load, end: load },
    error,
  };
}

function report(results: BenchResult[]): RunReport {
  return {
    startedAt: '2026-12-03T03:14:31.649Z',
    command: 'npm run bench',
    wallSeconds: 1,
    machine: {
      nproc: 2,
      memoryGiB: 23.5,
      cpuModel: 'AMD EPYC',
      os: 'Linux 6.18',
      node: '20.20.2',
      postgres: 'PostgreSQL 15.20 (Debian)',
      pgbench: 'pgbench 15.20',
      rabbitmq: 'RabbitMQ 3.10.8',
    },
    revision: { start: 'ce54d68', end: 'ce54d68' },
    quick: true,
    results,
  };
}

const step = (rate: number, p50: number) => ({
  rate,
  latency: { count: 10, p50, p95: p50 * 2, p99: p50 * 3, max: null, mean: p50 },
});

describe('renderRunCharts', () => {
  it('draws each benchmark of the report, with the run in the caption, each under 30 KB', () => {
    const charts = renderRunCharts(
      report([
        result('capture-cost', {
          runs: ['a', 'e'].flatMap((variant) =>
            [1, 2, 3].map((repetition) => ({ variant, writers: 8, repetition, tps: 1_000 })),
          ),
        }),
        result('e2e-latency', { steps: [step(100, 4), step(1_000, 5)] }),
        result('baseline', {
          naive: { steps: [step(100, 0.2), step(1_000, 0.3)] },
          original: { steps: [step(100, 0.5)] },
        }),
        result('relay', { commit: { p50: 0.5 }, hop: { p50: 0.25 } }),
        result('throughput', {
          sustained: 0,
          attempts: [{ phase: 'probe', rate: 1_000, passed: false, lag: { p50: null } }],
        }),
      ]),
    );
    expect(charts.map((c) => [c.name, c.section])).toEqual([
      ['latency', 'baseline'],
      ['throughput', 'throughput'],
      ['capture-cost', 'capture-cost'],
    ]);
    for (const chart of charts) {
      expectWellFormed(chart.svg);
      expect(chart.svg.length).toBeLessThan(30_000);
      expect(chart.svg).toContain(
        'Run 2026-12-03 03:14 UTC · quick run, not for BENCHMARKS.md · code ce54d68',
      );
    }
    const latency = charts[0]!.svg;
    expect(latency).toContain('(c) original shape');
    expect(latency).toContain('broker hop p50 0.25 ms');
    expect(charts[2]!.svg).toContain('(e) shipped + bridge draining');
  });

  it('draws the pipelines of an interleaved e2e-latency run in its own section', () => {
    const charts = renderRunCharts(
      report([
        result('e2e-latency', {
          pipelines: [
            { key: 'orders-live', id: '(a)', label: 'orders-live', steps: [step(100, 3), step(1_000, 4)] },
            { key: 'naive', id: '(b)', label: 'naive', steps: [step(100, 0.3), step(1_000, 0.4)] },
            { key: 'original', id: '(c)', label: 'original shape', steps: [step(100, 1)] },
          ],
        }),
      ]),
    );
    expect(charts.map((c) => [c.name, c.section])).toEqual([['latency', 'e2e-latency']]);
    expectWellFormed(charts[0]!.svg);
    expect(charts[0]!.svg).toContain('(c) original shape');
    expect(charts[0]!.svg).toContain('(b) naive');
  });

  it('leaves out what did not run and draws "no data" for what failed, without throwing', () => {
    const charts = renderRunCharts(
      report([
        result('e2e-latency', null, 'connect ECONNREFUSED'),
        result('throughput', { attempts: 'x' }),
        result('capture-cost', { runs: [{ variant: 'a', writers: 8, repetition: 1, tps: null }] }),
      ]),
    );
    expect(charts.map((c) => c.name)).toEqual(['latency', 'throughput', 'capture-cost']);
    expect(charts[0]!.svg).toContain('no data: e2e-latency failed: connect ECONNREFUSED');
    expect(charts[1]!.svg).toContain('no data: no rate was attempted');
    expect(charts[2]!.svg).toContain('no data: no pgbench run finished');
    for (const chart of charts) expectWellFormed(chart.svg);
    const odd = result('throughput', null);
    Object.defineProperty(odd, 'data', {
      get: () => {
        throw new Error('unreadable');
      },
    });
    expect(renderRunCharts(report([odd]))[0]!.svg).toContain('no data: Error: unreadable');
    expect(renderRunCharts({} as RunReport)).toEqual([]);
    expect(renderRunCharts(report([]))).toEqual([]);
  });
});

describe('renderMarkdown', () => {
  it('embeds each chart in its benchmark section by a relative link', () => {
    const md = renderMarkdown(report([result('throughput', null)]), [
      { section: 'throughput', alt: 'the ladder', file: 'latest-throughput.svg' },
      { section: 'baseline', alt: 'latency', file: 'latest-latency.svg' },
    ]);
    const section = md.slice(md.indexOf('## throughput'));
    expect(section).toContain('![the ladder](latest-throughput.svg)');
    expect(md.slice(md.indexOf('## Charts'))).toContain('![latency](latest-latency.svg)');
  });
});
