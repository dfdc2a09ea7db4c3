/**
 * The one line chart of xp, as an ECharts option: the board draws it in the browser, `xp plot`
 * renders the same option to SVG and PNG in Node. Plain data in, plain object out.
 */
import type { EChartsCoreOption } from 'echarts/core';

/** Tableau 10: distinct in hue and lightness; line i gets color i modulo 10. */
export const SERIES_COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
] as const;

export interface ChartLine {
  name: string;
  /** Points in x order; a null y leaves a gap in the line. */
  points: readonly (readonly [number | string, number | null])[];
  color: string;
  /** Thin and pale, without a legend entry or a tooltip row: the raw curve under a smoothed one. */
  faint?: boolean;
}

export interface LineChartOptions {
  title?: string;
  /** The x axis: numbers, a log scale, times (milliseconds since the epoch) or category names. */
  xType?: 'value' | 'log' | 'time' | 'category';
  xName?: string;
  /** A log10 value axis; values must then be above 0. */
  logY?: boolean;
  /** Vertical lines, labelled: where a run was resumed. */
  marks?: readonly { x: number; label: string }[];
  /** Markers on points once a line has at most this many (default 60). */
  markerLimit?: number;
  /** Transition animations (the board's updates); off for files. */
  animation?: boolean;
}

const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';

export function lineChartOption(lines: readonly ChartLine[], options: LineChartOptions = {}): EChartsCoreOption {
  const { title, xType = 'value', xName = 'step', logY = false, marks = [], markerLimit = 60, animation = false } = options;
  const legend = lines.filter((line) => !line.faint).map((line) => line.name);
  return {
    animation,
    textStyle: { fontFamily: FONT },
    title: title ? { text: title, left: 'center', textStyle: { fontSize: 15 } } : undefined,
    legend: { data: legend, bottom: 0, type: 'scroll', itemGap: 20 },
    grid: { left: 56, right: 56, top: title ? 48 : 24, bottom: 64 },
    tooltip: { trigger: 'axis', valueFormatter: formatValue },
    xAxis: { type: xType, name: xName, nameLocation: 'end', scale: true, splitLine: { show: true } },
    yAxis: { type: logY ? 'log' : 'value', scale: true },
    series: lines.map((line, i) => ({
      type: 'line',
      name: line.name,
      data: line.points,
      color: line.color,
      showSymbol: !line.faint && line.points.length <= markerLimit,
      symbolSize: 6,
      connectNulls: false,
      lineStyle: { width: line.faint ? 1 : 2, opacity: line.faint ? 0.3 : 1 },
      tooltip: line.faint ? { show: false } : undefined,
      emphasis: { disabled: true },
      silent: line.faint,
      z: line.faint ? 1 : 2,
      // The marks go on the first line only, so each is drawn once.
      markLine: i === 0 && marks.length ? resumeMarks(marks) : undefined,
    })),
  };
}

function resumeMarks(marks: readonly { x: number; label: string }[]): object {
  return {
    silent: true,
    symbol: 'none',
    lineStyle: { type: 'dashed', color: '#888' },
    label: { formatter: '{b}', position: 'insideEndTop', color: '#555' },
    data: marks.map(({ x, label }) => ({ xAxis: x, name: label })),
  };
}

/** Four significant digits: enough to tell losses apart, short enough for a tooltip. */
export function formatValue(value: unknown): string {
  return typeof value === 'number' ? String(Number(value.toPrecision(4))) : String(value ?? '');
}
