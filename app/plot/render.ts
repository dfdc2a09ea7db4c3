/**
 * A chart option rendered in Node: SVG through ECharts' server-side renderer, PNG through
 * resvg (prebuilt binaries from npm), which takes the text's fonts from the system.
 */
import { Resvg } from '@resvg/resvg-js';
import type { EChartsCoreOption } from 'echarts/core';
import { echarts } from './echarts.js';

export interface ChartSize {
  width: number;
  height: number;
}

export function chartSvg(option: EChartsCoreOption, { width, height }: ChartSize): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption(option);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

export function chartPng(option: EChartsCoreOption, size: ChartSize): Uint8Array {
  const svg = chartSvg(option, size);
  return new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
