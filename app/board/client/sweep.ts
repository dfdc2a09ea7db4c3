/**
 * The sweep tab: one row per trial with its parameters, status and last metrics, sorted by a
 * click on any heading; and a chart of a metric against a swept parameter.
 */
import { echarts } from '../../plot/echarts.js';
import { SERIES_COLORS, formatValue, lineChartOption } from '../../plot/line-chart.js';
import type { SweepResponse, SweepTrial } from '../api.js';
import { el } from './dom.js';

type Column = { key: string; label: string; value: (trial: SweepTrial) => unknown };

export class SweepView {
  readonly element = el('div', { class: 'sweep-view' });
  private sort = { key: 'trial', descending: false };
  private metric?: string;
  private param?: string;
  private chart?: ReturnType<typeof echarts.init>;
  private sweep?: SweepResponse;

  constructor(private readonly openTrial: (runId: string) => void) {}

  /** What is drawn, to skip polls that bring nothing new. */
  private drawn?: string;

  update(sweep: SweepResponse | undefined, error?: string): void {
    const drawn = JSON.stringify([sweep, error, this.sort, this.metric, this.param]);
    if (drawn === this.drawn) return;
    this.drawn = drawn;
    this.sweep = sweep;
    this.chart?.dispose();
    this.chart = undefined;
    if (error) return void this.element.replaceChildren(el('p', { class: 'error' }, error));
    if (!sweep) return void this.element.replaceChildren(el('p', { class: 'empty' }, 'pick a sweep: the “sweep table” button beside its folder'));
    this.metric = sweep.metrics.includes(this.metric ?? '') ? this.metric : (sweep.metrics.find((m) => m.endsWith('FID')) ?? sweep.metrics[0]);
    this.param = sweep.params.includes(this.param ?? '') ? this.param : sweep.params[0];
    const plot = el('div', { class: 'chart' });
    this.element.replaceChildren(el('h3', {}, `${sweep.id}: ${sweep.trials.length} trials`), this.table(sweep), this.chartControls(sweep), plot);
    if (this.metric && this.param) {
      this.chart = echarts.init(plot, null, { renderer: 'svg' });
      this.chart.setOption(metricChart(sweep, this.param, this.metric));
    }
  }

  private table(sweep: SweepResponse): HTMLElement {
    const columns: Column[] = [
      { key: 'trial', label: 'trial', value: (t) => t.name },
      ...sweep.params.map((p) => ({ key: `param:${p}`, label: p, value: (t: SweepTrial) => t.params[p] })),
      { key: 'status', label: 'status', value: (t) => t.status ?? 'not started' },
      { key: 'steps', label: 'steps', value: (t) => t.steps },
      ...sweep.metrics.map((m) => ({ key: `metric:${m}`, label: m, value: (t: SweepTrial) => t.metrics[m] })),
    ];
    const column = columns.find((c) => c.key === this.sort.key) ?? columns[0];
    const rows = [...sweep.trials].sort((a, b) => compare(column.value(a), column.value(b)) * (this.sort.descending ? -1 : 1));
    const heading = (c: Column) => {
      const arrow = c.key === this.sort.key ? (this.sort.descending ? ' ▼' : ' ▲') : '';
      return el('th', { 'data-key': c.key, onclick: () => this.sortBy(c.key) }, c.label + arrow);
    };
    return el(
      'table',
      { class: 'sweep-table' },
      el('thead', {}, el('tr', {}, ...columns.map(heading))),
      el(
        'tbody',
        {},
        ...rows.map((trial) =>
          el(
            'tr',
            { 'data-trial': trial.name },
            ...columns.map((c, i) => {
              const value = c.value(trial);
              const text = typeof value === 'number' ? formatValue(value) : String(value ?? '');
              if (i === 0 && trial.run) return el('td', {}, el('a', { href: '#', onclick: (e: Event) => (e.preventDefault(), this.openTrial(trial.run!)) }, text));
              return el('td', { class: typeof value === 'number' ? 'num' : undefined }, text);
            }),
          ),
        ),
      ),
    );
  }

  private chartControls(sweep: SweepResponse): HTMLElement {
    const select = (options: string[], current: string | undefined, pick: (value: string) => void) =>
      el('select', { onchange: (e: Event) => pick((e.target as HTMLSelectElement).value) }, ...options.map((o) => el('option', { value: o, selected: o === current }, o)));
    return el(
      'div',
      { class: 'controls' },
      select(sweep.metrics, this.metric, (m) => this.redraw({ metric: m })),
      ' against ',
      select(sweep.params, this.param, (p) => this.redraw({ param: p })),
    );
  }

  private sortBy(key: string): void {
    this.sort = { key, descending: this.sort.key === key ? !this.sort.descending : false };
    this.update(this.sweep);
  }

  private redraw(change: { metric?: string; param?: string }): void {
    this.metric = change.metric ?? this.metric;
    this.param = change.param ?? this.param;
    this.update(this.sweep);
  }
}

/** Numbers by value, then text; missing values last. */
function compare(a: unknown, b: unknown): number {
  if (a === undefined || a === null) return b === undefined || b === null ? 0 : 1;
  if (b === undefined || b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

/** The metric's last value of each trial against the parameter: a line over numbers, else points by name. */
function metricChart(sweep: SweepResponse, param: string, metric: string) {
  const trials = sweep.trials.filter((t) => t.metrics[metric] !== undefined && t.params[param] !== undefined);
  const numeric = trials.every((t) => typeof t.params[param] === 'number');
  const xs = trials.map((t) => t.params[param]);
  // Parameters such as a learning rate spread over decades; a log axis shows them evenly.
  const logX = numeric && Math.min(...(xs as number[])) > 0 && Math.max(...(xs as number[])) / Math.min(...(xs as number[])) >= 100;
  const points = trials
    .map((t) => [numeric ? (t.params[param] as number) : String(t.params[param]), t.metrics[metric]] as const)
    .sort((a, b) => compare(a[0], b[0]));
  return lineChartOption([{ name: metric, color: SERIES_COLORS[0], points }], {
    xType: numeric ? (logX ? 'log' : 'value') : 'category',
    xName: param,
    title: `${metric} against ${param}`,
  });
}
