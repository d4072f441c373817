// The capture-cost chart: pgbench's transactions per second for each capture variant as horizontal
// bars (median of the repetitions, whisker from min to max), one group per writer count, with the
// no-capture median as a dashed line and each bar's ratio to it. A pure function of numbers.

import {
  el,
  frame,
  GRID,
  HALO,
  INK,
  type LegendItem,
  legend,
  line,
  linearScale,
  linearTicks,
  MUTED,
  noDataChart,
  PALETTE,
  type Plot,
  type Scale,
  text,
  xAxis,
} from './svg.js';

/** What a variant is, for its colour: the reference, the naive trigger, orders-live's capture. */
export type CaptureKind = 'baseline' | 'naive' | 'capture' | 'pipeline';

export interface CaptureBar {
  /** The variant's letter in the report: "(e)". */
  id: string;
  label: string;
  kind: CaptureKind;
  median: number;
  min: number;
  max: number;
  /** ÷ the baseline's tps, median over the repetitions; NaN to leave it out. */
  ratio: number;
}

export interface CaptureGroup {
  /** "8 writers". */
  title: string;
  bars: readonly CaptureBar[];
}

export interface CaptureCostChartInput {
  title: string;
  caption: string;
  groups: readonly CaptureGroup[];
}

const WIDTH = 760;
const LEFT = 220;
const RIGHT = 120;
const ROW = 22;
const TOP = 62;
const KIND_COLOUR: Record<CaptureKind, string> = {
  baseline: '#8c959f',
  naive: PALETTE[1],
  capture: PALETTE[4],
  pipeline: PALETTE[0],
};
const KIND_LABEL: Record<CaptureKind, string> = {
  baseline: 'no capture',
  naive: 'naive trigger',
  capture: 'capture, no bridge',
  pipeline: 'capture + bridge running',
};

/** Header, rows and axis of one group. */
function groupHeight(group: CaptureGroup): number {
  return 24 + group.bars.length * ROW + 30;
}

export function renderCaptureCostChart(input: CaptureCostChartInput): string {
  const groups = input.groups.filter((g) => g.bars.some((b) => Number.isFinite(b.median)));
  const f = { width: WIDTH, title: input.title, caption: input.caption };
  if (groups.length === 0) return noDataChart(f, 'no pgbench run finished');
  const parts: string[] = [];
  let top = TOP;
  for (const group of groups) {
    parts.push(renderGroup(group, top));
    top += groupHeight(group);
  }
  const kinds = (Object.keys(KIND_COLOUR) as CaptureKind[]).filter((k) =>
    groups.some((g) => g.bars.some((b) => b.kind === k)),
  );
  const items: LegendItem[] = kinds.map((k) => ({
    label: KIND_LABEL[k],
    swatch: (x, y) => el('rect', { x: x - 8, y: y - 5, width: 16, height: 10, fill: KIND_COLOUR[k] }),
  }));
  items.push({
    label: 'min–max',
    swatch: (x, y) => line(x - 8, y, x + 8, y, { stroke: INK }),
  });
  return frame({ ...f, height: top + 26 }, legend(items, 12, 44) + parts.join(''));
}

function renderGroup(group: CaptureGroup, top: number): string {
  const plot: Plot = {
    left: LEFT,
    top: top + 24,
    width: WIDTH - LEFT - RIGHT,
    height: group.bars.length * ROW,
  };
  const highest = Math.max(
    ...group.bars.map((b) => (Number.isFinite(b.max) ? b.max : b.median)).filter(Number.isFinite),
  );
  const ticks = linearTicks(highest);
  const x = linearScale([0, ticks[ticks.length - 1]!], [plot.left, plot.left + plot.width]);
  const parts = [
    text(12, top + 14, group.title, { 'font-size': 12, 'font-weight': 600 }),
    xAxis(plot, x, ticks),
    text(plot.left + plot.width / 2, plot.top + plot.height + 27, 'transactions/s (pgbench)', {
      'text-anchor': 'middle',
      'font-size': 10,
      fill: MUTED,
    }),
    line(plot.left, plot.top, plot.left, plot.top + plot.height, { stroke: GRID }),
  ];
  // The no-capture median under the bars: each bar's end reads against it.
  const baseline = group.bars.find((b) => b.kind === 'baseline');
  if (baseline && Number.isFinite(baseline.median)) {
    const at = x(baseline.median);
    parts.push(line(at, plot.top, at, plot.top + plot.height, { stroke: MUTED, 'stroke-dasharray': '3 3' }));
  }
  parts.push(...group.bars.map((bar, i) => renderBar(bar, plot.top + i * ROW, x)));
  return parts.join('');
}

/** Label, bar, whisker and "4,094 tps · 0.43×" on one row. */
function renderBar(bar: CaptureBar, rowTop: number, x: Scale): string {
  const mid = rowTop + ROW / 2;
  const parts = [
    text(LEFT - 8, mid + 4, `${bar.id} ${bar.label}`, { 'text-anchor': 'end', 'font-size': 11 }),
  ];
  if (!Number.isFinite(bar.median)) {
    parts.push(text(LEFT + 6, mid + 4, 'no data', { 'font-size': 10, fill: MUTED }));
    return parts.join('');
  }
  const end = x(bar.median);
  parts.push(el('rect', { x: LEFT, y: mid - 6, width: end - LEFT, height: 12, fill: KIND_COLOUR[bar.kind] }));
  let right = end;
  if (Number.isFinite(bar.min) && Number.isFinite(bar.max)) {
    const [lo, hi] = [x(bar.min), x(bar.max)];
    parts.push(
      line(lo, mid, hi, mid, { stroke: INK }),
      line(lo, mid - 4, lo, mid + 4, { stroke: INK }),
      line(hi, mid - 4, hi, mid + 4, { stroke: INK }),
    );
    right = Math.max(right, hi);
  }
  const tps = bar.median.toLocaleString('en-US', { maximumFractionDigits: 0 });
  const ratio = bar.kind !== 'baseline' && Number.isFinite(bar.ratio) ? ` · ${bar.ratio.toFixed(2)}×` : '';
  parts.push(text(right + 6, mid + 4, `${tps}${ratio}`, { 'font-size': 10, fill: MUTED, ...HALO }));
  return parts.join('');
}
