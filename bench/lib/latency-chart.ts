// The latency chart: commit → client latency of each pipeline as a percentile curve (p50 … p99.9,
// then max) on a log ms axis, one panel per rate side by side on one shared axis, the floors the
// run measured (idle commit, broker hop) as grey dashed lines. A pure function of numbers; missing points are skipped, never
// drawn at 0.

import type { PercentilePoint } from './stats.js';
import {
  coord,
  el,
  frame,
  type LegendItem,
  legend,
  line,
  linearScale,
  logDomain,
  logScale,
  logTicks,
  MUTED,
  noDataChart,
  PALETTE,
  type Plot,
  plotBox,
  polyline,
  type Scale,
  text,
  xAxis,
  yAxis,
} from './svg.js';

export interface LatencySeries {
  /** The pipeline's letter in the reports: "(a)". */
  id: string;
  label: string;
  /** Latency at percentiles, ascending p; non-finite values are left out. */
  points: readonly PercentilePoint[];
  maxMs: number;
}

export interface LatencyPanel {
  /** Events per second. */
  rate: number;
  series: readonly LatencySeries[];
}

/** A floor the run measured, drawn as a dashed line: "idle commit p50". */
export interface ReferenceLine {
  label: string;
  ms: number;
}

export interface LatencyChartInput {
  title: string;
  caption: string;
  panels: readonly LatencyPanel[];
  floors: readonly ReferenceLine[];
}

const WIDTH = 860;
const PLOT_TOP = 92;
const PLOT_HEIGHT = 220;
const HEIGHT = PLOT_TOP + PLOT_HEIGHT + 58;
const PANEL_GAP = 20;
/** The nines axis: p50 at 0.3, p90 at 1, p99 at 2, p99.9 at 3; "max" sits a step past p99.9. */
const MAX_X = 3.6;
const X_TICKS = [50, 90, 99, 99.9];
const DASHES = [undefined, '6 3', '2 3', '8 3 2 3'];
const FLOOR_DASHES = ['4 3', '1 2'];

/** x of the p-th percentile on the nines axis: log10(100 / (100 − p)). */
export function ninesX(p: number): number {
  return p >= 100 ? MAX_X : Math.log10(100 / (100 - p));
}

export function renderLatencyChart(input: LatencyChartInput): string {
  const panels = input.panels.filter((p) => p.series.some((s) => pointsOf(s).length > 0));
  const f = { width: WIDTH, title: input.title, caption: input.caption };
  if (panels.length === 0) return noDataChart(f, 'no latency was measured');
  const ids = [...new Set(panels.flatMap((p) => p.series.map((s) => s.id)))];
  const labels = new Map(panels.flatMap((p) => p.series.map((s) => [s.id, s.label] as const)));
  const values = panels.flatMap((p) => p.series.flatMap((s) => pointsOf(s).map(([, ms]) => ms)));
  const floors = input.floors.filter((r) => Number.isFinite(r.ms) && r.ms > 0);
  const domain = logDomain([...values, ...floors.map((r) => r.ms)]);
  const panelWidth = (WIDTH - 70 - 16 - PANEL_GAP * (panels.length - 1)) / panels.length;
  const y = logScale(domain, [PLOT_TOP + PLOT_HEIGHT, PLOT_TOP]);
  const body = panels.map((panel, i) => {
    const plot = {
      left: 70 + i * (panelWidth + PANEL_GAP),
      top: PLOT_TOP,
      width: panelWidth,
      height: PLOT_HEIGHT,
    };
    return renderPanel(plot, panel, y, logTicks(domain), ids, i === 0, floors);
  });
  const items: LegendItem[] = ids.map((id, i) => ({
    label: `${id} ${labels.get(id)}`,
    swatch: (x, cy) => seriesSwatch(i, x, cy),
  }));
  items.push(...floors.map(floorItem));
  return frame({ ...f, height: HEIGHT }, legend(items, 12, 46) + body.join(''));
}

/** The series' points as [nines x, ms], max included, finite and positive only. */
function pointsOf(series: LatencySeries): [number, number][] {
  const points = series.points.map((p): [number, number] => [ninesX(p.p), p.ms]);
  points.push([MAX_X, series.maxMs]);
  return points.filter(([, ms]) => Number.isFinite(ms) && ms > 0);
}

function renderPanel(
  plot: Plot,
  panel: LatencyPanel,
  y: Scale,
  yTicks: number[],
  ids: string[],
  first: boolean,
  floors: readonly ReferenceLine[],
): string {
  const x = linearScale([0.1, MAX_X + 0.2], [plot.left, plot.left + plot.width]);
  const tickLabel = (p: number) => (p >= 100 ? 'max' : `p${p}`);
  const parts = [
    yAxis(plot, y, yTicks, first ? 'commit → client latency, ms (log)' : undefined, first),
    xAxis(plot, (p) => x(ninesX(p)), [...X_TICKS, 100], tickLabel),
    plotBox(plot),
    panelLabels(plot, panel),
    ...floors.map((floor, i) => floorLine(plot, y, floor, i)),
  ];
  for (const series of panel.series) {
    const points = pointsOf(series).map(([px, ms]): [number, number] => [x(px), y(ms)]);
    parts.push(seriesPath(ids.indexOf(series.id), points));
  }
  return parts.join('');
}

/** The rate above the panel, the ratio note under it, the x axis title below. */
function panelLabels(plot: Plot, panel: LatencyPanel): string {
  const centre = plot.left + plot.width / 2;
  const small = { 'text-anchor': 'middle', 'font-size': 10, fill: MUTED };
  return (
    text(centre, plot.top - 22, `${panel.rate.toLocaleString('en-US')} events/s`, {
      'text-anchor': 'middle',
      'font-size': 12,
      'font-weight': 600,
    }) +
    text(centre, plot.top - 8, ratioNote(panel), small) +
    text(centre, plot.top + plot.height + 28, 'percentile (nines scale)', small)
  );
}

/** "(a) ÷ (b): p50 26×, p99 17×" for the first two series, where both have the percentile. */
function ratioNote(panel: LatencyPanel): string {
  const [a, b] = panel.series;
  if (!a || !b) return '';
  const at = (s: LatencySeries, p: number) => s.points.find((q) => q.p === p)?.ms ?? Number.NaN;
  const ratios = [50, 99]
    .map((p) => ({ p, r: at(a, p) / at(b, p) }))
    .filter(({ r }) => Number.isFinite(r) && r > 0)
    .map(({ p, r }) => `p${p} ${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`);
  return ratios.length > 0 ? `${a.id} ÷ ${b.id}: ${ratios.join(', ')}` : '';
}

/** A floor's line across the panel: dashed, dotted, … in the order of the floors. */
function floorLine(plot: Plot, y: Scale, floor: ReferenceLine, index: number): string {
  if (!(floor.ms > 0)) return '';
  const at = y(floor.ms);
  return line(plot.left, at, plot.left + plot.width, at, floorStroke(index));
}

function floorStroke(index: number) {
  return { stroke: MUTED, 'stroke-dasharray': FLOOR_DASHES[index % FLOOR_DASHES.length] };
}

/** The curve through the percentiles, its markers, and a dotted step from p99.9 to max. */
function seriesPath(index: number, points: [number, number][]): string {
  const colour = PALETTE[index % PALETTE.length]!;
  const curve = points.slice(0, -1);
  const tail = points.slice(-2);
  return (
    polyline(curve, { stroke: colour, 'stroke-width': 2, 'stroke-dasharray': DASHES[index % 4] }) +
    (tail.length === 2
      ? polyline(tail, { stroke: colour, 'stroke-width': 1, 'stroke-dasharray': '1 2' })
      : '') +
    points.map(([px, py]) => marker(index, px, py)).join('')
  );
}

/** Circle, square, triangle, diamond: the series apart without colour too. */
export function marker(index: number, x: number, y: number): string {
  const fill = PALETTE[index % PALETTE.length]!;
  const r = 3.2;
  const [cx, r1] = [coord(x), coord(r + 1)];
  switch (index % 4) {
    case 0:
      return el('circle', { cx: x, cy: y, r, fill });
    case 1:
      return el('rect', { x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill });
    case 2:
      return el('path', {
        d: `M${coord(x - r - 0.5)},${coord(y + r)}h7.4L${cx},${coord(y - r - 0.5)}Z`,
        fill,
      });
    default:
      return el('path', { d: `M${cx},${coord(y - r - 1)}l${r1},${r1}l-${r1},${r1}l-${r1},-${r1}Z`, fill });
  }
}

function seriesSwatch(index: number, x: number, y: number): string {
  const colour = PALETTE[index % PALETTE.length]!;
  return (
    line(x - 9, y, x + 9, y, { stroke: colour, 'stroke-width': 2, 'stroke-dasharray': DASHES[index % 4] }) +
    marker(index, x, y)
  );
}

function floorItem(floor: ReferenceLine, index: number): LegendItem {
  return {
    label: `${floor.label} ${floor.ms.toFixed(2)} ms`,
    swatch: (x, y) => line(x - 9, y, x + 9, y, floorStroke(index)),
  };
}
