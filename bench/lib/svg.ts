// SVG primitives for the benchmark charts (bench/lib/charts.ts): escaping, elements, scales, ticks
// and the frame every chart shares. Pure functions that return strings. A chart draws its own white
// background and uses a generic font, so it reads the same on GitHub's light and dark themes and
// fetches nothing.

export const FONT = 'system-ui, sans-serif';
/** Text and axes, GitHub's light foreground; muted text; grid lines; the background. */
export const INK = '#1f2328';
export const MUTED = '#59636e';
export const GRID = '#d8dee4';
export const PAPER = '#ffffff';
/** Okabe–Ito colours: told apart with the common colour-vision deficiencies. */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00'] as const;
export const GOOD = '#009e73';
export const BAD = '#d55e00';

export type Attrs = Record<string, string | number | undefined>;
/** A white outline under a label, so that it stays legible over a line it crosses. */
export const HALO: Attrs = {
  stroke: PAPER,
  'stroke-width': 3,
  'stroke-linejoin': 'round',
  'paint-order': 'stroke',
};
export type Scale = (value: number) => number;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A coordinate with at most one decimal: enough at this size, and it keeps the files small. */
export function coord(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** An element; attributes left undefined are omitted, numbers are rounded with coord(). */
export function el(tag: string, attrs: Attrs, ...children: string[]): string {
  const list = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? coord(v) : escapeXml(v!)}"`)
    .join('');
  return children.length === 0 ? `<${tag}${list}/>` : `<${tag}${list}>${children.join('')}</${tag}>`;
}

export function text(x: number, y: number, content: string, attrs: Attrs = {}): string {
  return el('text', { x, y, ...attrs }, escapeXml(content));
}

export function line(x1: number, y1: number, x2: number, y2: number, attrs: Attrs = {}): string {
  return el('line', { x1, y1, x2, y2, ...attrs });
}

export function polyline(points: readonly [number, number][], attrs: Attrs): string {
  return el('polyline', {
    points: points.map(([x, y]) => `${coord(x)},${coord(y)}`).join(' '),
    fill: 'none',
    ...attrs,
  });
}

/** Width of `content` at `size` px in a proportional sans-serif, roughly (no font to measure). */
export function textWidth(content: string, size: number): number {
  return content.length * size * 0.56;
}

/** `content`, cut with an ellipsis where it would run past `width` px at `size` px. */
export function fitText(content: string, width: number, size: number): string {
  const chars = Math.floor(width / (size * 0.56));
  return content.length > chars ? `${content.slice(0, chars - 1)}…` : content;
}

export function linearScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** A log10 scale; values at or below 0 are drawn at the domain's low end. */
export function logScale(domain: [number, number], range: [number, number]): Scale {
  const inner = linearScale([Math.log10(domain[0]), Math.log10(domain[1])], range);
  return (v) => inner(Math.log10(Math.max(v, domain[0])));
}

const STEPS = [1, 2, 5];

/** The smallest 1, 2 or 5 × 10^k that is ≥ `value`. */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const decade = 10 ** Math.floor(Math.log10(value));
  return [...STEPS, 10].map((m) => m * decade).find((v) => v >= value * (1 - 1e-9))!;
}

/** The largest 1, 2 or 5 × 10^k that is ≤ `value`. */
export function niceFloor(value: number): number {
  if (!(value > 0)) return 1;
  const decade = 10 ** Math.floor(Math.log10(value));
  return [...STEPS]
    .reverse()
    .map((m) => m * decade)
    .find((v) => v <= value * (1 + 1e-9))!;
}

/** Ticks from 0 to ≥ max at the smallest 1, 2 or 5 × 10^k step that needs at most 7 intervals. */
export function linearTicks(max: number): number[] {
  let step = niceFloor(max / 7);
  while (max / step > 7) step = niceCeil(step * 1.01);
  const ticks: number[] = [];
  for (let i = 0; i * step < max + step * 0.999; i++) ticks.push(Number((i * step).toPrecision(6)));
  return ticks;
}

/** 1, 2 or 5 × 10^k around the values' range; [1, 10] without a positive value. */
export function logDomain(values: readonly number[]): [number, number] {
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  if (positive.length === 0) return [1, 10];
  const lo = niceFloor(Math.min(...positive));
  const hi = niceCeil(Math.max(...positive));
  return [lo, hi > lo ? hi : niceCeil(lo * 1.5)];
}

/** Decades within the domain, plus 2× and 5× between them when it spans at most two decades. */
export function logTicks(domain: [number, number]): number[] {
  const [lo, hi] = domain;
  const multiples = Math.log10(hi / lo) <= 2 ? STEPS : [1];
  const ticks: number[] = [];
  for (let d = 10 ** Math.floor(Math.log10(lo)); d <= hi * 1.0001; d *= 10) {
    for (const m of multiples) {
      const v = Number((d * m).toPrecision(6));
      if (v >= lo * 0.9999 && v <= hi * 1.0001) ticks.push(v);
    }
  }
  return ticks;
}

/** "0.1", "2", "1,000": a tick's label. */
export function tickLabel(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** "500", "2k", "20k": a rate's label. */
export function shortNumber(value: number): string {
  return Math.abs(value) >= 1000 ? `${Number((value / 1000).toPrecision(3))}k` : tickLabel(value);
}

export interface Plot {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The plot's outline. */
export function plotBox(plot: Plot): string {
  const { left: x, top: y, width, height } = plot;
  return el('rect', { x, y, width, height, fill: 'none', stroke: GRID });
}

/** Horizontal grid lines, with labels left of the plot and the axis title rotated beside them. */
export function yAxis(
  plot: Plot,
  scale: Scale,
  ticks: readonly number[],
  title?: string,
  labels = true,
): string {
  const parts = ticks.map((t) => {
    const y = scale(t);
    const grid = line(plot.left, y, plot.left + plot.width, y, { stroke: GRID });
    if (!labels) return grid;
    return (
      grid +
      text(plot.left - 5, y + 3.5, tickLabel(t), { 'text-anchor': 'end', 'font-size': 10, fill: MUTED })
    );
  });
  if (title) {
    const x = plot.left - 40;
    const y = plot.top + plot.height / 2;
    parts.push(
      text(x, y, title, { transform: `rotate(-90 ${x} ${y})`, 'text-anchor': 'middle', 'font-size': 11 }),
    );
  }
  return parts.join('');
}

/** Vertical grid lines with labels under the plot. */
export function xAxis(plot: Plot, scale: Scale, ticks: readonly number[], label = tickLabel): string {
  return ticks
    .map((t) => {
      const x = scale(t);
      const bottom = plot.top + plot.height;
      return (
        line(x, plot.top, x, bottom, { stroke: GRID }) +
        text(x, bottom + 13, label(t), { 'text-anchor': 'middle', 'font-size': 10, fill: MUTED })
      );
    })
    .join('');
}

export interface LegendItem {
  label: string;
  /** Draws the swatch centred on (x, y), about 18 × 10 px. */
  swatch(x: number, y: number): string;
}

/** One row of swatches and labels from (x, y); returns the SVG. */
export function legend(items: readonly LegendItem[], x: number, y: number): string {
  let at = x;
  return items
    .map((item) => {
      const part = item.swatch(at + 9, y - 3.5) + text(at + 22, y, item.label, { 'font-size': 11 });
      at += 22 + textWidth(item.label, 11) + 16;
      return part;
    })
    .join('');
}

export interface Frame {
  width: number;
  height: number;
  title: string;
  /** One line under the chart: the run's date, machine and code. */
  caption: string;
}

/** The document: a white card with the title on top and the caption at the bottom. */
export function frame(f: Frame, body: string): string {
  return `${el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      width: f.width,
      height: f.height,
      viewBox: `0 0 ${f.width} ${f.height}`,
      role: 'img',
      'font-family': FONT,
      fill: INK,
    },
    el('title', {}, escapeXml(f.title)),
    el('rect', { width: f.width, height: f.height, rx: 6, fill: PAPER, stroke: GRID }),
    text(12, 22, f.title, { 'font-size': 15, 'font-weight': 600 }),
    body,
    text(12, f.height - 9, fitText(f.caption, f.width - 24, 10), { 'font-size': 10, fill: MUTED }),
  )}\n`;
}

/** A chart with nothing to draw: the frame and why. */
export function noDataChart(f: Omit<Frame, 'height'>, why: string): string {
  const height = 120;
  return frame(
    { ...f, height },
    text(f.width / 2, 66, fitText(`no data: ${why}`, f.width - 24, 13), {
      'text-anchor': 'middle',
      'font-size': 13,
      fill: MUTED,
    }),
  );
}
