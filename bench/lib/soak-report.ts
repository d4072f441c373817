// The soak's verdict from its samples: per process, the heap's trend after the warm-up (a robust
// slope: the Theil–Sen median of pairwise slopes, which a garbage collector's sawtooth does not
// tilt, beside the least-squares one), whether counts that must not grow stayed flat, the worst
// event-loop delay, and a chart of heap used over time. Pure, for unit tests.

import * as svg from './svg.js';

export interface ProcessSample {
  rssBytes: number;
  heapUsedBytes: number;
  loopDelayP99Ms: number;
  openFds: number;
}

export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  processes: Record<string, ProcessSample>;
  /** Counts that must stay flat: PostgreSQL connections, RabbitMQ connections, channels, queues. */
  counts: Record<string, number>;
}

export interface SoakTargets {
  /** Heap-used slope, bytes per 10 minutes. */
  heapSlopePer10Min: number;
  loopDelayP99Ms: number;
}

export const TARGETS: SoakTargets = { heapSlopePer10Min: 1024 * 1024, loopDelayP99Ms: 50 };

export interface ProcessVerdict {
  name: string;
  /** Bytes per 10 minutes. */
  heapSlope: number;
  heapSlopeLeastSquares: number;
  heapFirstMiB: number;
  heapLastMiB: number;
  rssSlope: number;
  maxLoopDelayP99Ms: number;
  fds: FlatVerdict;
  /** Checked against the targets (the system's processes); the load generator's are reported only. */
  checked: boolean;
  ok: boolean;
}

export interface FlatVerdict {
  name: string;
  median: number;
  /** The trend's rise over the samples after the warm-up. */
  growth: number;
  min: number;
  max: number;
  ok: boolean;
}

/** Least-squares slope of y over x. */
export function leastSquaresSlope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** Theil–Sen slope: the median of the slopes between every pair of points. */
export function theilSenSlope(points: readonly [number, number][]): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++)
    for (let j = i + 1; j < points.length; j++) {
      const [xi, yi] = points[i]!;
      const [xj, yj] = points[j]!;
      if (xj !== xi) slopes.push((yj - yi) / (xj - xi));
    }
  if (slopes.length === 0) return Number.NaN;
  slopes.sort((a, b) => a - b);
  const mid = slopes.length >> 1;
  return slopes.length % 2 ? slopes[mid]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
}

/**
 * Flat: the trend over the samples (Theil–Sen slope × their time span) grows the count by at most
 * `tolerance`, or 5 % of its median, whichever is larger. Counts that churn (a gateway's sockets)
 * move around a level; a leak climbs.
 */
export function flatness(name: string, points: readonly [number, number][], tolerance = 2): FlatVerdict {
  const values = points.map(([, v]) => v);
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1] ?? 0;
  const span = points.length > 1 ? points.at(-1)![0] - points[0]![0] : 0;
  const growth = points.length > 1 ? theilSenSlope(points) * span : 0;
  return {
    name,
    median,
    growth,
    min: Math.min(...values),
    max: Math.max(...values),
    ok: growth <= Math.max(tolerance, median * 0.05),
  };
}

export interface SoakVerdict {
  warmupS: number;
  samplesAfterWarmup: number;
  processes: ProcessVerdict[];
  counts: FlatVerdict[];
  ok: boolean;
}

const PER_10_MIN = 600;

/** `checked`: the processes held to the targets (the system's; not the load generators). */
export function judgeSoak(
  samples: readonly SoakSample[],
  warmupS: number,
  checked: (name: string) => boolean,
  targets: SoakTargets = TARGETS,
): SoakVerdict {
  const after = samples.filter((s) => s.t >= warmupS);
  const names = [...new Set(after.flatMap((s) => Object.keys(s.processes)))];
  const processes = names.map((name): ProcessVerdict => {
    const mine = after.filter((s) => s.processes[name]).map((s) => [s.t, s.processes[name]!] as const);
    const heap = mine.map(([t, p]) => [t, p.heapUsedBytes] as [number, number]);
    const heapSlope = theilSenSlope(heap) * PER_10_MIN;
    const maxLoop = Math.max(...mine.map(([, p]) => p.loopDelayP99Ms));
    const fds = flatness(
      `${name} open files`,
      mine.map(([t, p]) => [t, p.openFds]),
    );
    const isChecked = checked(name);
    const ok = heapSlope <= targets.heapSlopePer10Min && maxLoop <= targets.loopDelayP99Ms && fds.ok;
    return {
      name,
      heapSlope,
      heapSlopeLeastSquares: leastSquaresSlope(heap) * PER_10_MIN,
      heapFirstMiB: (heap[0]?.[1] ?? Number.NaN) / 2 ** 20,
      heapLastMiB: (heap.at(-1)?.[1] ?? Number.NaN) / 2 ** 20,
      rssSlope: theilSenSlope(mine.map(([t, p]) => [t, p.rssBytes])) * PER_10_MIN,
      maxLoopDelayP99Ms: maxLoop,
      fds,
      checked: isChecked,
      ok: !isChecked || ok,
    };
  });
  const countNames = [...new Set(after.flatMap((s) => Object.keys(s.counts)))];
  const counts = countNames.map((name) =>
    flatness(
      name,
      after.filter((s) => s.counts[name] !== undefined).map((s) => [s.t, s.counts[name]!]),
    ),
  );
  const enough = after.length >= 6;
  return {
    warmupS,
    samplesAfterWarmup: after.length,
    processes,
    counts,
    ok: enough && processes.every((p) => p.ok) && counts.every((c) => c.ok),
  };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
const mark = (ok: boolean) => (ok ? 'yes' : '**no**');
const signed = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;

/** The verdict as Markdown tables. */
export function soakTables(verdict: SoakVerdict): string {
  const rows = verdict.processes.map(
    (p) =>
      `| ${p.name}${p.checked ? '' : ' (load)'} | ${mib(p.heapSlope)} | ${mib(p.heapSlopeLeastSquares)} | ` +
      `${p.heapFirstMiB.toFixed(1)} → ${p.heapLastMiB.toFixed(1)} | ${mib(p.rssSlope)} | ` +
      `${p.maxLoopDelayP99Ms.toFixed(1)} | ${p.fds.median} (${p.fds.min}–${p.fds.max}), ${signed(p.fds.growth)} | ` +
      `${p.checked ? mark(p.ok) : '–'} |`,
  );
  const counts = verdict.counts.map(
    (c) => `| ${c.name} | ${c.median} | ${c.min}–${c.max} | ${signed(c.growth)} | ${mark(c.ok)} |`,
  );
  return [
    '| process | heap used, MiB / 10 min (Theil–Sen) | least squares | heap MiB, first → last | RSS, MiB / 10 min | worst event-loop p99, ms | open files: median (range), trend | meets targets |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '| count | median | range | trend over the run | flat |',
    '| --- | --- | --- | --- | --- |',
    ...counts,
  ].join('\n');
}

/** Heap used of every process over the run, the warm-up shaded. */
export function soakChart(
  samples: readonly SoakSample[],
  warmupS: number,
  title: string,
  caption: string,
): string {
  const width = 760;
  const plot: svg.Plot = { left: 70, top: 64, width: width - 70 - 16, height: 240 };
  const height = plot.top + plot.height + 66;
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.processes)))];
  const maxT = Math.max(60, ...samples.map((s) => s.t));
  const maxHeap = svg.niceCeil(
    Math.max(1, ...samples.flatMap((s) => Object.values(s.processes).map((p) => p.heapUsedBytes / 2 ** 20))),
  );
  const x = svg.linearScale([0, maxT / 60], [plot.left, plot.left + plot.width]);
  const y = svg.linearScale([0, maxHeap], [plot.top + plot.height, plot.top]);
  const series = names.map((name, i) => {
    const points = samples
      .filter((s) => s.processes[name])
      .map((s) => [x(s.t / 60), y(s.processes[name]!.heapUsedBytes / 2 ** 20)] as [number, number]);
    return svg.polyline(points, {
      fill: 'none',
      stroke: svg.PALETTE[i % svg.PALETTE.length]!,
      'stroke-width': 1.5,
    });
  });
  const warm: svg.Attrs = {
    x: plot.left,
    y: plot.top,
    width: Math.max(0, x(Math.min(warmupS, maxT) / 60) - plot.left),
    height: plot.height,
    fill: '#f3f4f6',
  };
  const items: svg.LegendItem[] = names.map((name, i) => ({
    label: name,
    swatch: (sx: number, sy: number) =>
      svg.line(sx - 9, sy, sx + 9, sy, { stroke: svg.PALETTE[i % svg.PALETTE.length]!, 'stroke-width': 2 }),
  }));
  const body = [
    svg.el('rect', warm),
    svg.yAxis(plot, y, svg.linearTicks(maxHeap), 'heap used, MiB'),
    svg.xAxis(plot, x, svg.linearTicks(maxT / 60), (m) => `${m} min`),
    svg.plotBox(plot),
    ...series,
    svg.legend(items, plot.left, 46),
  ].join('');
  return svg.frame({ width, height, title, caption }, body);
}
