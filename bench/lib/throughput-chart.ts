// The throughput ladder: every rate the throughput benchmark attempted, in order, with its lag
// (p50 to max as a bar, p99 as a dot) on a log ms axis, green when it held and red when it did
// not, against the lag limit. A pure function of numbers; an attempt without lag figures keeps its
// slot and label, with nothing drawn.

import {
  BAD,
  coord,
  el,
  frame,
  GOOD,
  HALO,
  type LegendItem,
  legend,
  line,
  logDomain,
  logScale,
  logTicks,
  MUTED,
  noDataChart,
  type Plot,
  plotBox,
  type Scale,
  shortNumber,
  text,
  tickLabel,
  yAxis,
} from './svg.js';

export interface LadderAttempt {
  phase: 'probe' | 'confirm';
  /** Events per second asked of the writers. */
  rate: number;
  /** How long the attempt was to last; NaN when unknown. */
  seconds: number;
  p50: number;
  p99: number;
  max: number;
  held: boolean;
}

export interface ThroughputChartInput {
  title: string;
  caption: string;
  /** An attempt holds while no event lags more than this. */
  limitMs: number;
  attempts: readonly LadderAttempt[];
}

const WIDTH = 760;
const PLOT: Plot = { left: 70, top: 64, width: WIDTH - 70 - 16, height: 220 };
const HEIGHT = PLOT.top + PLOT.height + 66;

export function renderThroughputChart(input: ThroughputChartInput): string {
  const f = { width: WIDTH, title: input.title, caption: input.caption };
  if (input.attempts.length === 0) return noDataChart(f, 'no rate was attempted');
  const values = input.attempts.flatMap((a) => [a.p50, a.p99, a.max]);
  const domain = logDomain([...values, input.limitMs]);
  const y = logScale(domain, [PLOT.top + PLOT.height, PLOT.top]);
  const slot = PLOT.width / input.attempts.length;
  const xOf = (i: number) => PLOT.left + (i + 0.5) * slot;
  const body = [
    yAxis(PLOT, y, logTicks(domain), 'lag (commit → client), ms (log)'),
    plotBox(PLOT),
    limitLine(y, input.limitMs),
    ...input.attempts.map((a, i) => attemptMark(a, xOf(i), y, slot)),
    ...phaseBrackets(input.attempts, xOf, slot),
    legend(legendItems(), 12, 46),
  ];
  return frame({ ...f, height: HEIGHT }, body.join(''));
}

function limitLine(y: Scale, limitMs: number): string {
  if (!(limitMs > 0)) return '';
  const at = y(limitMs);
  return (
    line(PLOT.left, at, PLOT.left + PLOT.width, at, { stroke: BAD, 'stroke-dasharray': '6 3' }) +
    text(PLOT.left + 4, at - 4, `limit ${tickLabel(limitMs)} ms`, {
      ...HALO,
      'font-size': 10,
      fill: BAD,
    })
  );
}

/** The bar from p50 to max, a tick at max, the dot at p99 and the rate under the axis. */
function attemptMark(a: LadderAttempt, x: number, y: Scale, slot: number): string {
  const colour = a.held ? GOOD : BAD;
  const ok = (v: number) => Number.isFinite(v) && v > 0;
  const parts = [
    text(x, PLOT.top + PLOT.height + 13, `${shortNumber(a.rate)}/s`, {
      'text-anchor': 'middle',
      'font-size': 10,
      fill: MUTED,
    }),
  ];
  const half = Math.min(6, slot * 0.2);
  if (ok(a.p50) && ok(a.max)) {
    const [top, bottom] = [y(a.max), y(a.p50)];
    parts.push(
      el('rect', { x: x - half, y: top, width: 2 * half, height: bottom - top, fill: colour, opacity: 0.35 }),
      line(x - half - 2, top, x + half + 2, top, { stroke: colour, 'stroke-width': 2 }),
    );
  }
  if (ok(a.p99)) parts.push(el('circle', { cx: x, cy: y(a.p99), r: 3.5, fill: colour }));
  const mark = a.held ? '✓' : '✗';
  const markY = ok(a.max) ? y(a.max) - 5 : PLOT.top + PLOT.height - 5;
  parts.push(text(x, markY, mark, { 'text-anchor': 'middle', 'font-size': 11, fill: colour }));
  return parts.join('');
}

/** "probes, 5 s each" and "confirmations, 20 s each" under consecutive attempts of one phase. */
function phaseBrackets(
  attempts: readonly LadderAttempt[],
  xOf: (i: number) => number,
  slot: number,
): string[] {
  const parts: string[] = [];
  const bottom = PLOT.top + PLOT.height + 22;
  for (let start = 0; start < attempts.length; ) {
    const phase = attempts[start]!.phase;
    let end = start;
    while (end + 1 < attempts.length && attempts[end + 1]!.phase === phase) end++;
    const [x0, x1] = [xOf(start) - slot / 2 + 4, xOf(end) + slot / 2 - 4];
    const seconds = attempts[start]!.seconds;
    const each = Number.isFinite(seconds) ? `, ${seconds} s each` : '';
    const label = `${phase === 'probe' ? 'probes' : 'confirmations'}${each}`;
    parts.push(
      el('path', {
        d: `M${coord(x0)} ${bottom - 4}V${bottom}H${coord(x1)}V${bottom - 4}`,
        fill: 'none',
        stroke: MUTED,
      }),
      text((x0 + x1) / 2, bottom + 13, label, { 'text-anchor': 'middle', 'font-size': 10, fill: MUTED }),
    );
    start = end + 1;
  }
  return parts;
}

function legendItems(): LegendItem[] {
  return [
    {
      label: 'held',
      swatch: (x, y) => el('rect', { x: x - 5, y: y - 5, width: 10, height: 10, fill: GOOD }),
    },
    {
      label: 'not held',
      swatch: (x, y) => el('rect', { x: x - 5, y: y - 5, width: 10, height: 10, fill: BAD }),
    },
    {
      label: 'lag p50 → max',
      swatch: (x, y) => el('rect', { x: x - 4, y: y - 6, width: 8, height: 12, fill: MUTED, opacity: 0.35 }),
    },
    { label: 'lag p99', swatch: (x, y) => el('circle', { cx: x, cy: y, r: 3.5, fill: MUTED }) },
  ];
}
