/**
 * The board's page: the run tree on the left; the shown runs' details and four tabs (scalars,
 * images, config, sweep) on the right. It asks the server for the run list every two seconds
 * and refetches a shown run's data only when its version changes, so a live run updates by
 * itself. What is shown is kept in the address (#run=...&tab=...), to reload or share.
 */
import { SERIES_COLORS } from '../../plot/line-chart.js';
import type { RunSummary, RunsResponse, SweepResponse } from '../api.js';
import { api } from './api.js';
import { renderConfig } from './config.js';
import { duration, el, localTime } from './dom.js';
import { ImagesView } from './images.js';
import { renderTree, runSeconds } from './run-tree.js';
import { ScalarsView } from './scalars.js';
import { shortLabels, type ChartSettings, type ShownRun, type XAxis } from './selection.js';
import { SweepView } from './sweep.js';

const POLL_MS = 2000;
const CHART_POINTS = 1000;
const TABS = ['scalars', 'images', 'config', 'sweep'] as const;
type Tab = (typeof TABS)[number];

const state = {
  runs: [] as RunSummary[],
  sweeps: [] as RunsResponse['sweeps'],
  /** Shown run ids, in the order picked: the order of colors. */
  shown: [] as string[],
  fetched: new Map<string, Pick<ShownRun, 'detail' | 'scalars'> & { smoothing?: number }>(),
  tab: 'scalars' as Tab,
  sweep: undefined as string | undefined,
  sweepData: undefined as SweepResponse | undefined,
  sweepError: undefined as string | undefined,
  filter: '',
  settings: { x: 'step', logY: false, smoothing: 0.6 } as ChartSettings,
};

const $ = (id: string) => document.getElementById(id)!;
const scalarsView = new ScalarsView();
const imagesView = new ImagesView();
const sweepView = new SweepView((runId) => {
  if (!state.shown.includes(runId)) state.shown.push(runId);
  setTab('scalars');
});

function readAddress(): void {
  const params = new URLSearchParams(location.hash.slice(1));
  state.shown = params.getAll('run');
  state.sweep = params.get('sweep') ?? undefined;
  const tab = params.get('tab') as Tab;
  state.tab = TABS.includes(tab) ? tab : state.sweep && !state.shown.length ? 'sweep' : 'scalars';
}

function writeAddress(): void {
  const params = new URLSearchParams([...state.shown.map((id) => ['run', id]), ['tab', state.tab], ...(state.sweep ? [['sweep', state.sweep]] : [])]);
  history.replaceState(null, '', `#${params}`);
}

function shownRuns(): ShownRun[] {
  const summaries = state.shown.map((id) => state.runs.find((run) => run.id === id)).filter((run) => run !== undefined);
  const labels = shortLabels(summaries.map((run) => run.id));
  return summaries.map((summary, i) => ({
    id: summary.id,
    label: labels[i],
    color: SERIES_COLORS[state.shown.indexOf(summary.id) % SERIES_COLORS.length],
    summary,
    ...state.fetched.get(summary.id),
  }));
}

/** Fetches what changed of the shown runs (and the shown sweep), then draws. */
async function refresh(): Promise<void> {
  const list = await api.runs();
  state.runs = list.runs;
  state.sweeps = list.sweeps;
  $('root').textContent = list.root;
  const known = new Set(list.runs.map((run) => run.id));
  await Promise.all(
    state.shown.filter((id) => known.has(id)).map(async (id) => {
      const summary = list.runs.find((run) => run.id === id)!;
      const had = state.fetched.get(id);
      const stale = (version?: string) => version !== summary.version;
      const [detail, scalars] = await Promise.all([
        !had?.detail || stale(had.detail.version) ? api.run(id) : had.detail,
        !had?.scalars || stale(had.scalars.version) || had.smoothing !== state.settings.smoothing
          ? api.scalars(id, CHART_POINTS, state.settings.smoothing)
          : had.scalars,
      ]);
      state.fetched.set(id, { detail, scalars, smoothing: state.settings.smoothing });
    }),
  );
  if (state.sweep && state.tab === 'sweep') {
    try {
      state.sweepData = await api.sweep(state.sweep);
      state.sweepError = undefined;
    } catch (err) {
      state.sweepError = (err as Error).message;
    }
  }
  draw();
}

function draw(): void {
  const colors = new Map(shownRuns().map((run) => [run.id, run.color]));
  $('tree').replaceChildren(renderTree(state.runs, state.sweeps, colors, state.filter, { toggleRun, showSweep }));
  const runs = shownRuns();
  $('details').replaceChildren(detailsTable(runs));
  $('tabs').replaceChildren(
    ...TABS.map((tab) => el('button', { class: tab === state.tab ? 'tab active' : 'tab', 'data-tab': tab, onclick: () => setTab(tab) }, tab)),
  );
  const view = $('view');
  if (state.tab === 'scalars') {
    view.replaceChildren(chartControls(), scalarsView.element);
    scalarsView.update(runs, state.settings);
  } else if (state.tab === 'images') {
    view.replaceChildren(imagesView.element);
    imagesView.update(runs);
  } else if (state.tab === 'config') {
    view.replaceChildren(renderConfig(runs));
  } else {
    view.replaceChildren(sweepView.element);
    sweepView.update(state.sweepData?.id === state.sweep ? state.sweepData : undefined, state.sweepError);
  }
  writeAddress();
}

function detailsTable(runs: ShownRun[]): HTMLElement {
  if (runs.length === 0) return el('p', { class: 'empty' }, 'no run selected');
  const row = (run: ShownRun) => {
    const s = run.summary;
    // The run's data may have found a malformed event file before the list says so.
    const unreadable = run.detail?.unreadable ?? s.unreadable;
    const seconds = runSeconds(s);
    return el(
      'tr',
      { 'data-run': run.id },
      el('td', {}, el('span', { class: 'swatch', style: `background:${run.color}` }), run.label),
      el('td', {}, el('span', { class: `status status-${unreadable ? 'unreadable' : s.status}` }, unreadable ? 'unreadable' : (s.status ?? ''))),
      el('td', {}, s.backend ?? ''),
      el('td', { class: 'num' }, s.steps ?? ''),
      el('td', { class: 'num' }, s.lastLoss?.toPrecision(4) ?? ''),
      el('td', {}, s.startedAt ? localTime(s.startedAt) : ''),
      el('td', {}, seconds === undefined ? '' : duration(seconds)),
      el('td', {}, s.checkpoints?.length ? s.checkpoints.map((step) => `step ${step}`).join(', ') : ''),
      el('td', { class: 'problem' }, unreadable ?? s.error ?? ''),
    );
  };
  const headings = ['run', 'status', 'backend', 'steps', 'last loss', 'started', 'duration', 'checkpoints', ''];
  return el('table', { class: 'details' }, el('thead', {}, el('tr', {}, ...headings.map((h) => el('th', {}, h)))), el('tbody', {}, ...runs.map(row)));
}

function chartControls(): HTMLElement {
  const { settings } = state;
  const smoothingLabel = el('span', { class: 'smoothing-value' }, settings.smoothing.toFixed(2));
  return el(
    'div',
    { class: 'controls' },
    el(
      'label',
      {},
      'smoothing ',
      el('input', {
        type: 'range', min: 0, max: 0.99, step: 0.01, value: settings.smoothing, id: 'smoothing',
        oninput: (e: Event) => (smoothingLabel.textContent = Number((e.target as HTMLInputElement).value).toFixed(2)),
        onchange: (e: Event) => changeSettings({ smoothing: Number((e.target as HTMLInputElement).value) }),
      }),
      smoothingLabel,
    ),
    el('label', {}, el('input', { type: 'checkbox', id: 'log-y', checked: settings.logY, onchange: (e: Event) => changeSettings({ logY: (e.target as HTMLInputElement).checked }) }), ' log scale'),
    el(
      'label',
      {},
      'x ',
      el(
        'select',
        { id: 'x-axis', onchange: (e: Event) => changeSettings({ x: (e.target as HTMLSelectElement).value as XAxis }) },
        ...(['step', 'relative', 'wall'] as const).map((x) => el('option', { value: x, selected: x === settings.x }, x === 'relative' ? 'relative time' : x === 'wall' ? 'wall time' : 'step')),
      ),
    ),
  );
}

function changeSettings(change: Partial<ChartSettings>): void {
  state.settings = { ...state.settings, ...change };
  void update();
}

function toggleRun(id: string): void {
  state.shown = state.shown.includes(id) ? state.shown.filter((shown) => shown !== id) : [...state.shown, id];
  void update();
}

function showSweep(id: string): void {
  state.sweep = id;
  setTab('sweep');
}

function setTab(tab: Tab): void {
  state.tab = tab;
  void update();
}

/** One refresh at a time; a request made meanwhile runs once the current one ends. */
let running: Promise<void> | undefined;
let again = false;
async function update(): Promise<void> {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      try {
        await refresh();
        $('connection').textContent = '';
      } catch (err) {
        $('connection').textContent = `cannot reach the board's server: ${(err as Error).message}`;
      }
    } while (again);
  })();
  await running;
  running = undefined;
}

readAddress();
window.addEventListener('hashchange', () => {
  readAddress();
  void update();
});
($('filter') as HTMLInputElement).addEventListener('input', (e) => {
  state.filter = (e.target as HTMLInputElement).value;
  draw();
});
void update();
setInterval(() => void update(), POLL_MS);
