/**
 * The scalars tab: a chart per tag, every shown run overlaid in its color, drawn with the same
 * ECharts option as `xp plot`. Charts are kept between updates and given new data in place.
 */
import { echarts } from '../../plot/echarts.js';
import { lineChartOption, type ChartLine } from '../../plot/line-chart.js';
import { csvUrl } from './api.js';
import { el } from './dom.js';
import type { ChartSettings, ShownRun } from './selection.js';

type Chart = ReturnType<typeof echarts.init>;

const X_NAMES = { step: 'step', relative: 'seconds since start', wall: 'time' } as const;

export class ScalarsView {
  readonly element = el('div', { class: 'charts' });
  private readonly cards = new Map<string, { card: HTMLElement; chart: Chart; info: HTMLElement; drawn?: string }>();

  constructor() {
    window.addEventListener('resize', () => this.cards.forEach(({ chart }) => chart.resize()));
  }

  update(runs: ShownRun[], settings: ChartSettings): void {
    const tags = [...new Set(runs.flatMap((run) => Object.keys(run.scalars?.curves ?? {})))].sort();
    for (const [tag, { card, chart }] of this.cards) {
      if (tags.includes(tag)) continue;
      chart.dispose();
      card.remove();
      this.cards.delete(tag);
    }
    if (tags.length === 0) {
      this.element.replaceChildren(el('p', { class: 'empty' }, runs.length ? 'no scalars recorded yet' : 'select runs on the left'));
      this.cards.clear();
      return;
    }
    this.element.querySelector(':scope > .empty')?.remove();
    for (const tag of tags) {
      const card = this.cardFor(tag);
      const withTag = runs.filter((run) => run.scalars?.curves[tag]);
      // Polls bring the same data most of the time; a chart is drawn again only when it changed.
      const drawn = JSON.stringify([settings, withTag.map((run) => [run.id, run.label, run.color, run.scalars!.version, run.detail?.version])]);
      if (card.drawn === drawn) continue;
      card.drawn = drawn;
      const { chart, info } = card;
      info.replaceChildren(
        ...withTag.flatMap((run) => [
          el('span', { class: 'swatch', style: `background:${run.color}` }),
          el('span', { class: 'points', 'data-run': run.id }, `${run.scalars!.curves[tag].total.toLocaleString('en')} points`),
          el('a', { href: csvUrl(run.id, tag), download: '' }, 'csv'),
        ]),
      );
      chart.setOption(chartOption(withTag, tag, settings), { notMerge: true });
    }
  }

  private cardFor(tag: string): { chart: Chart; info: HTMLElement; drawn?: string } {
    let entry = this.cards.get(tag);
    if (!entry) {
      const plot = el('div', { class: 'chart' });
      const info = el('div', { class: 'chart-info' });
      const card = el('div', { class: 'card chart-card', 'data-tag': tag }, el('h3', {}, tag), plot, info);
      // Cards stay in tag order as tags appear.
      const after = [...this.cards.keys()].filter((t) => t > tag).sort()[0];
      this.element.insertBefore(card, after ? this.cards.get(after)!.card : null);
      entry = { card, chart: echarts.init(plot, null, { renderer: 'svg' }), info };
      this.cards.set(tag, entry);
    }
    return entry;
  }
}

function chartOption(runs: ShownRun[], tag: string, settings: ChartSettings) {
  const lines: ChartLine[] = [];
  const marks: { x: number; label: string }[] = [];
  for (const run of runs) {
    const curve = run.scalars!.curves[tag];
    const start = curve.wallTime[0];
    const x = (i: number) => xValue(settings, curve.step[i], curve.wallTime[i], start);
    const y = (value: number) => (settings.logY && !(value > 0) ? null : value);
    const points = (values: number[]) => values.map((value, i) => [x(i), y(value)] as const);
    if (curve.smoothed) {
      lines.push({ name: run.label, color: run.color, points: points(curve.value), faint: true });
      lines.push({ name: run.label, color: run.color, points: points(curve.smoothed) });
    } else {
      lines.push({ name: run.label, color: run.color, points: points(curve.value) });
    }
    for (const resume of run.detail?.resumes ?? []) {
      marks.push({ x: xValue(settings, resume.step, resume.wallTime, start), label: runs.length > 1 ? `${run.label} resumed` : 'resumed' });
    }
  }
  return lineChartOption(lines, {
    xType: settings.x === 'wall' ? 'time' : 'value',
    xName: X_NAMES[settings.x],
    logY: settings.logY,
    marks,
    animation: false,
  });
}

function xValue(settings: ChartSettings, step: number, wallTime: number, start: number): number {
  if (settings.x === 'step') return step;
  if (settings.x === 'relative') return Math.round((wallTime - start) * 10) / 10;
  return wallTime * 1000;
}
