/**
 * Line charts of scalar curves (x = step, y = value) as RGB PNGs, drawn pixel by pixel with
 * xp's own bitmap font, so that `xp plot` needs no canvas library or native code.
 */
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph, textWidth } from './font.js';
import { encodeRgbPng } from '../../framework/records/png.js';
import type { ScalarPoint } from '../../framework/records/tensorboard/reader.js';

export interface ChartSeries {
  name: string;
  /** Sorted by step; a non-finite value leaves a gap in the line. */
  points: readonly ScalarPoint[];
}

export interface ChartOptions {
  /** Image width in pixels (default 800). */
  width?: number;
  /** Image height in pixels (default: a 400-pixel plot plus the title, axes and legend). */
  height?: number;
  title?: string;
  /** A log10 value axis; every value must then be positive. */
  logY?: boolean;
}

export type Rgb = readonly [number, number, number];

/** Tableau 10: distinct in hue and lightness; series i gets color i modulo 10. */
export const SERIES_COLORS: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const BACKGROUND: Rgb = [255, 255, 255];
const GRID: Rgb = [226, 226, 226];
const INK: Rgb = [40, 40, 40];

/** Font scale: 5x7 glyphs become 10x14 pixels. */
const SCALE = 2;
const TEXT_HEIGHT = GLYPH_HEIGHT * SCALE;
const LINE_HEIGHT = TEXT_HEIGHT + 6;
const PAD = 16;
const TICK = 5;
/** Between a tick and its label, a swatch and its name. */
const GAP = 6;
const LINE_WIDTH = 2;
const MARKER = 7;
/** Points are marked while a series has at most one per this many pixels of plot width. */
const MARKER_SPACING = 10;
const SWATCH = 12;
/** Between legend columns. */
const COLUMN_GAP = 24;
const DEFAULT_WIDTH = 800;
const DEFAULT_PLOT_HEIGHT = 400;
const MIN_PLOT_SIZE = 40;
/** Pixels per tick the axes aim for; nice round steps land near it. */
const X_TICK_SPACING = 120;
const Y_TICK_SPACING = 60;

interface Pixel {
  x: number;
  y: number;
}

interface Rect {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  labels: string[];
  log: boolean;
}

interface Legend {
  columns: number;
  columnWidth: number;
  height: number;
}

export function lineChartPng(series: readonly ChartSeries[], options: ChartOptions = {}): Uint8Array {
  const canvas = drawChart(series, options);
  return encodeRgbPng(canvas.pixels, canvas.width, canvas.height);
}

function drawChart(series: readonly ChartSeries[], { width = DEFAULT_WIDTH, height, title, logY = false }: ChartOptions): Canvas {
  const points = series.flatMap((s) => s.points.filter((p) => Number.isFinite(p.value)));
  if (points.length === 0) throw new RangeError('lineChartPng: no finite points to draw');
  const nonPositive = logY && series.find((s) => s.points.some((p) => p.value <= 0));
  if (nonPositive) throw new RangeError(`lineChartPng: ${nonPositive.name} has values <= 0, which a log axis cannot show`);

  const legend = legendLayout(series, width);
  const top = PAD + (title ? LINE_HEIGHT + GAP : 0);
  // Below the plot: tick labels, the x axis's name, the legend.
  const below = TICK + GAP + 2 * LINE_HEIGHT + GAP + legend.height + PAD;
  const plotHeight = height === undefined ? DEFAULT_PLOT_HEIGHT : height - top - below;
  const x = linearAxis(extent(points.map((p) => p.step)), width / X_TICK_SPACING, 1);
  const values = extent(points.map((p) => p.value));
  const y = logY ? logAxis(values) : linearAxis(values, plotHeight / Y_TICK_SPACING, 0);
  const plot: Rect = {
    left: PAD + Math.max(...y.labels.map((label) => textWidth(label, SCALE))) + TICK + GAP,
    // Room for half of the last x label, which is centered on the right edge.
    right: width - PAD - Math.ceil(textWidth(x.labels.at(-1)!, SCALE) / 2),
    top,
    bottom: top + plotHeight,
  };
  if (plot.right - plot.left < MIN_PLOT_SIZE || plotHeight < MIN_PLOT_SIZE) {
    throw new RangeError(`lineChartPng: a ${width}x${height ?? 'auto'} image leaves no room for the plot`);
  }

  const canvas = new Canvas(width, plot.bottom + below);
  drawAxes(canvas, plot, x, y);
  series.forEach((s, i) => drawSeries(canvas, s, SERIES_COLORS[i % SERIES_COLORS.length], plot, x, y));
  if (title) canvas.text(title, Math.max(PAD, Math.round((width - textWidth(title, SCALE)) / 2)), PAD);
  const axisName = 'step';
  const axisNameTop = plot.bottom + TICK + GAP + LINE_HEIGHT;
  canvas.text(axisName, Math.round((plot.left + plot.right - textWidth(axisName, SCALE)) / 2), axisNameTop);
  drawLegend(canvas, series, legend, axisNameTop + LINE_HEIGHT + GAP);
  return canvas;
}

// ---- axes ----

/** A loop, not Math.min(...values): a long run has more points than a call takes arguments. */
function extent(values: number[]): [number, number] {
  let [min, max] = [Infinity, -Infinity];
  for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)];
  return [min, max];
}

/**
 * An axis from a round number below `min` to one above `max`, ticks at a 1-2-5 step chosen so
 * that there are at most about `targetTicks` of them, and no finer than `minStep`.
 */
function linearAxis([min, max]: [number, number], targetTicks: number, minStep: number): Axis {
  // A flat curve still needs a span: ±10% around it (±1 around zero).
  const pad = min === max ? Math.abs(min) / 10 || 1 : 0;
  const step = Math.max(niceStep((max - min + 2 * pad) / Math.max(2, targetTicks)), minStep);
  const first = Math.floor((min - pad) / step);
  const last = Math.ceil((max + pad) / step);
  const ticks = Array.from({ length: last - first + 1 }, (_, i) => (first + i) * step);
  return { lo: first * step, hi: last * step, ticks, labels: ticks.map((t) => formatTick(t, step)), log: false };
}

/** The smallest of 1, 2 or 5 times a power of ten that is at least `raw`. */
function niceStep(raw: number): number {
  const power = decade(Math.floor(Math.log10(raw)));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw * (1 - 1e-9))!;
}

/**
 * Whole decades around [min, max]. Ticks at 1, 2 and 5 times each power of ten when the axis
 * spans two decades or less (else a single tick would be all there is), at powers of ten
 * otherwise, thinned to about ten.
 */
function logAxis([min, max]: [number, number]): Axis {
  const first = Math.floor(Math.log10(min));
  const last = Math.max(Math.ceil(Math.log10(max)), first + 1);
  const mantissas = last - first <= 2 ? [1, 2, 5] : [1];
  const stride = Math.ceil((last - first) / 10);
  const ticks: number[] = [];
  for (let e = first; e <= last; e += stride) {
    for (const m of mantissas) if (m === 1 || e < last) ticks.push(m * decade(e));
  }
  return { lo: decade(first), hi: decade(last), ticks, labels: ticks.map((t) => formatTick(t, t)), log: true };
}

/** 10^e, parsed rather than computed so that it is the double nearest the decimal. */
function decade(e: number): number {
  return Number(`1e${e}`);
}

/** As many decimals as the tick step needs; exponent form for very large values or tiny steps. */
function formatTick(value: number, step: number): string {
  if (value === 0) return '0';
  const stepPower = Math.floor(Math.log10(step) + 1e-9);
  if (Math.abs(value) >= 1e6 || stepPower < -4) {
    const digits = Math.max(0, Math.floor(Math.log10(Math.abs(value)) + 1e-9) - stepPower);
    return value.toExponential(Math.min(digits, 20)).replace('e+', 'e');
  }
  return value.toFixed(Math.max(0, -stepPower));
}

/** Where `value` falls between the axis's ends, from 0 to 1. */
function fraction(axis: Axis, value: number): number {
  const t = axis.log ? Math.log10 : (v: number) => v;
  return (t(value) - t(axis.lo)) / (t(axis.hi) - t(axis.lo));
}

function toPixel(plot: Rect, x: Axis, y: Axis, point: ScalarPoint): Pixel {
  return {
    x: Math.round(plot.left + fraction(x, point.step) * (plot.right - plot.left)),
    y: Math.round(plot.bottom - fraction(y, point.value) * (plot.bottom - plot.top)),
  };
}

/** Grid lines at the ticks, the plot's frame, tick marks and their labels. */
function drawAxes(canvas: Canvas, plot: Rect, x: Axis, y: Axis): void {
  const xs = x.ticks.map((t) => Math.round(plot.left + fraction(x, t) * (plot.right - plot.left)));
  const ys = y.ticks.map((t) => Math.round(plot.bottom - fraction(y, t) * (plot.bottom - plot.top)));
  for (const px of xs) canvas.fillRect(px, plot.top, 1, plot.bottom - plot.top, GRID);
  for (const py of ys) canvas.fillRect(plot.left, py, plot.right - plot.left, 1, GRID);
  canvas.frame(plot, INK);
  xs.forEach((px, i) => {
    canvas.fillRect(px, plot.bottom, 1, TICK, INK);
    canvas.text(x.labels[i], px - Math.round(textWidth(x.labels[i], SCALE) / 2), plot.bottom + TICK + GAP);
  });
  ys.forEach((py, i) => {
    canvas.fillRect(plot.left - TICK, py, TICK, 1, INK);
    canvas.text(y.labels[i], plot.left - TICK - GAP - textWidth(y.labels[i], SCALE), py - TEXT_HEIGHT / 2);
  });
}

// ---- series and legend ----

function drawSeries(canvas: Canvas, series: ChartSeries, color: Rgb, plot: Rect, x: Axis, y: Axis): void {
  const pixels = series.points.map((p) => (Number.isFinite(p.value) ? toPixel(plot, x, y, p) : undefined));
  for (let i = 1; i < pixels.length; i++) {
    const [from, to] = [pixels[i - 1], pixels[i]];
    if (from && to) canvas.line(from, to, color);
  }
  // Markers make sparse curves (a few evaluations) readable; on dense ones they only smear.
  if (series.points.length > (plot.right - plot.left) / MARKER_SPACING) return;
  const half = Math.floor(MARKER / 2);
  for (const p of pixels) if (p) canvas.fillRect(p.x - half, p.y - half, MARKER, MARKER, color);
}

/** Entries in as many equal columns as fit across the image, filled row by row. */
function legendLayout(series: readonly ChartSeries[], width: number): Legend {
  const columnWidth = SWATCH + GAP + Math.max(0, ...series.map((s) => textWidth(s.name, SCALE))) + COLUMN_GAP;
  const fit = Math.floor((width - 2 * PAD + COLUMN_GAP) / columnWidth);
  const columns = Math.max(1, Math.min(fit, series.length));
  return { columns, columnWidth, height: Math.ceil(series.length / columns) * LINE_HEIGHT };
}

function drawLegend(canvas: Canvas, series: readonly ChartSeries[], legend: Legend, top: number): void {
  series.forEach((s, i) => {
    const left = PAD + (i % legend.columns) * legend.columnWidth;
    const rowTop = top + Math.floor(i / legend.columns) * LINE_HEIGHT;
    canvas.fillRect(left, rowTop + (TEXT_HEIGHT - SWATCH) / 2, SWATCH, SWATCH, SERIES_COLORS[i % SERIES_COLORS.length]);
    canvas.text(s.name, left + SWATCH + GAP, rowTop);
  });
}

// ---- pixels ----

/** An RGB image with the few drawing operations a chart needs; everything clips at the edges. */
class Canvas {
  readonly pixels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, BACKGROUND);
  }

  fillRect(left: number, top: number, w: number, h: number, color: Rgb): void {
    const [x0, x1] = [Math.max(0, left), Math.min(this.width, left + w)];
    const [y0, y1] = [Math.max(0, top), Math.min(this.height, top + h)];
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) this.pixels.set(color, (y * this.width + x) * 3);
  }

  /** A one-pixel rectangle outline on the edges of `rect`. */
  frame(rect: Rect, color: Rgb): void {
    const [w, h] = [rect.right - rect.left + 1, rect.bottom - rect.top + 1];
    this.fillRect(rect.left, rect.top, w, 1, color);
    this.fillRect(rect.left, rect.bottom, w, 1, color);
    this.fillRect(rect.left, rect.top, 1, h, color);
    this.fillRect(rect.right, rect.top, 1, h, color);
  }

  /** A LINE_WIDTH-wide line: Bresenham's pixels, each stamped with a square brush. */
  line(from: Pixel, to: Pixel, color: Rgb): void {
    const [dx, dy] = [Math.abs(to.x - from.x), -Math.abs(to.y - from.y)];
    const [sx, sy] = [from.x < to.x ? 1 : -1, from.y < to.y ? 1 : -1];
    const offset = Math.floor(LINE_WIDTH / 2);
    let { x, y } = from;
    for (let err = dx + dy; ; ) {
      this.fillRect(x - offset, y - offset, LINE_WIDTH, LINE_WIDTH, color);
      if (x === to.x && y === to.y) return;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }

  /** `text` in INK with its top-left corner at (left, top). */
  text(text: string, left: number, top: number): void {
    let x = left;
    for (const char of text) {
      glyph(char).forEach((bits, row) => {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (bits & (1 << (GLYPH_WIDTH - 1 - col))) this.fillRect(x + col * SCALE, top + row * SCALE, SCALE, SCALE, INK);
        }
      });
      x += GLYPH_ADVANCE * SCALE;
    }
  }
}
