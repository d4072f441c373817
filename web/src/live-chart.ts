// The live chart: events drawn per second (bars) and each second's commit → screen p99 (a line)
// over the last 3 minutes, as inline SVG the page draws itself: two path strings, no library.
// Frames only count into second-buckets.ts; the chart is drawn once a second, just after the
// second turns, never per event, so its cost does not grow with the rate (a burst of 5,000 events
// a second costs one sort of their latencies a second). Its text alternative (the SVG's <title>)
// says the last minute in words. What it cost so far is kept on the figure (data-draws,
// data-draw-ms, data-draw-max-ms; data-records and data-record-ms: frames counted) with the events
// its bars add up to (data-events), for test/e2e/dashboard-burst to report and check.

import { byTestId, setText } from './dom.js';
import { formatMs } from './format.js';
import { createSecondBuckets, type SecondStats } from './second-buckets.js';

/** index.html's viewBox (180 wide) and axis ("3 min ago") say the same. */
export const CHART_SECONDS = 180;
/** The SVG's viewBox is CHART_SECONDS wide (a unit a second) and this high. */
const HEIGHT = 60;
/** Drawn this long after the second turned: a frame rendered at .999 s still counts in its second. */
const DRAW_DELAY_MS = 30;

export interface LiveChart {
  /** One frame: `events` drawn at `nowMs` (epoch ms), with the latencies (ms) of its live ones. */
  record(nowMs: number, events: number, latencies: readonly number[]): void;
  stop(): void;
}

export function createLiveChart(figure: HTMLElement): LiveChart {
  return new LiveChartImpl(figure);
}

/** The figure's elements that a draw writes. */
interface ChartParts {
  bars: SVGPathElement;
  line: SVGPathElement;
  rate: HTMLElement;
  p99: HTMLElement;
  rateTop: HTMLElement;
  p99Top: HTMLElement;
  summary: HTMLElement;
}

class LiveChartImpl implements LiveChart {
  private readonly buckets = createSecondBuckets(CHART_SECONDS);
  private readonly figure: HTMLElement;
  private readonly parts: ChartParts;
  private readonly cost = { records: 0, recordMs: 0, draws: 0, drawMs: 0, drawMaxMs: 0 };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(figure: HTMLElement) {
    this.figure = figure;
    this.parts = chartParts(figure);
    this.draw(Date.now());
    this.schedule();
  }

  record(nowMs: number, events: number, latencies: readonly number[]): void {
    const started = performance.now();
    this.buckets.add(nowMs, events, latencies);
    this.cost.records += 1;
    this.cost.recordMs += performance.now() - started;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private draw(nowMs: number): void {
    const started = performance.now();
    const events = drawSeries(this.parts, this.buckets.series(nowMs));
    const took = performance.now() - started;
    const { cost, figure } = this;
    cost.draws += 1;
    cost.drawMs += took;
    cost.drawMaxMs = Math.max(cost.drawMaxMs, took);
    figure.dataset.events = String(events);
    figure.dataset.draws = String(cost.draws);
    figure.dataset.drawMs = cost.drawMs.toFixed(2);
    figure.dataset.drawMaxMs = cost.drawMaxMs.toFixed(2);
    figure.dataset.records = String(cost.records);
    figure.dataset.recordMs = cost.recordMs.toFixed(2);
  }

  private schedule(): void {
    this.timer = setTimeout(
      () => {
        if (this.stopped) return;
        this.draw(Date.now());
        this.schedule();
      },
      1_000 - (Date.now() % 1_000) + DRAW_DELAY_MS,
    );
  }
}

function chartParts(figure: HTMLElement): ChartParts {
  const path = (testId: string) => byTestId(figure, testId) as Element as SVGPathElement;
  return {
    bars: path('chart-bars'),
    line: path('chart-line'),
    rate: byTestId(figure, 'chart-rate'),
    p99: byTestId(figure, 'chart-p99'),
    rateTop: byTestId(figure, 'chart-rate-max'),
    p99Top: byTestId(figure, 'chart-p99-max'),
    summary: byTestId(figure, 'chart-summary'),
  };
}

/** Draws the bars, the line, their scales and the readouts; returns the events the bars add up to. */
function drawSeries(parts: ChartParts, series: readonly SecondStats[]): number {
  let events = 0;
  let peak = 0;
  let worst = 0;
  for (const second of series) {
    events += second.events;
    peak = Math.max(peak, second.events);
    worst = Math.max(worst, second.p99 ?? 0);
  }
  const top = niceCeil(peak, 10);
  const topMs = niceCeil(worst, 10);
  setPath(parts.bars, barsPath(series, top));
  setPath(parts.line, linePath(series, topMs));
  setText(parts.rateTop, `${top.toLocaleString()}/s`);
  setText(parts.p99Top, formatMs(topMs));
  const last = series.at(-1);
  setText(parts.rate, (last?.events ?? 0).toLocaleString());
  setText(parts.p99, last?.p99 == null ? '–' : formatMs(last.p99));
  setText(parts.summary, describe(series.slice(-60)));
  return events;
}

/** Writes a path only when it differs: an idle chart is not repainted every second. */
function setPath(path: SVGPathElement, d: string): void {
  if (path.getAttribute('d') !== d) path.setAttribute('d', d);
}

/** One bar a second with events, as high as its share of `top`; a single event still shows. */
function barsPath(series: readonly SecondStats[], top: number): string {
  let d = '';
  series.forEach(({ events }, i) => {
    if (events === 0) return;
    const height = Math.max(0.8, (events / top) * HEIGHT);
    d += `M${i} ${HEIGHT}V${(HEIGHT - height).toFixed(2)}h0.8V${HEIGHT}Z`;
  });
  return d;
}

/** A step a second at its p99, lifted off the edges by one unit; no line through seconds without one. */
function linePath(series: readonly SecondStats[], topMs: number): string {
  let d = '';
  let penDown = false;
  series.forEach(({ p99 }, i) => {
    if (p99 === null) {
      penDown = false;
      return;
    }
    const y = (HEIGHT - 1 - (p99 / topMs) * (HEIGHT - 2)).toFixed(2);
    d += penDown ? `V${y}H${i + 1}` : `M${i} ${y}H${i + 1}`;
    penDown = true;
  });
  return d;
}

/** The chart in words, over the last minute: what a screen reader gets instead of the picture. */
function describe(minute: readonly SecondStats[]): string {
  const what = 'Events per second and commit-to-screen p99 latency, last 3 minutes.';
  const events = minute.reduce((sum, s) => sum + s.events, 0);
  if (events === 0) return `${what} No events in the last minute.`;
  const peak = Math.max(...minute.map((s) => s.events));
  const worst = Math.max(...minute.map((s) => s.p99 ?? 0));
  const average = events / minute.length;
  return (
    `${what} Last minute: ${average.toLocaleString(undefined, { maximumFractionDigits: 1 })} events/s ` +
    `on average, at most ${peak.toLocaleString()} in a second` +
    (worst > 0 ? `; p99 up to ${formatMs(worst)}.` : '.')
  );
}

/** The smallest 1, 2 or 5 × 10^k at or above `value`, and at least `floor`: a scale's top. */
function niceCeil(value: number, floor: number): number {
  if (value <= floor) return floor;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5]) if (step * power >= value) return step * power;
  return 10 * power;
}
