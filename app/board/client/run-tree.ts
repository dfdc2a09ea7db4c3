/** The run tree: experiments, runs and sweep trials as folders below RUNS_DIR, with each run's status. */
import type { RunSummary, SweepSummary } from '../api.js';
import { duration, el, localTime } from './dom.js';

export interface TreeHandlers {
  toggleRun(id: string): void;
  showSweep(id: string): void;
}

interface Folder {
  name: string;
  id: string;
  folders: Map<string, Folder>;
  runs: RunSummary[];
}

export function renderTree(
  runs: RunSummary[],
  sweeps: SweepSummary[],
  colors: Map<string, string>,
  filter: string,
  handlers: TreeHandlers,
): HTMLElement {
  const wanted = filter.trim().toLowerCase();
  const shown = runs.filter((run) => run.id.toLowerCase().includes(wanted));
  if (shown.length === 0) return el('p', { class: 'empty' }, runs.length ? `no run matches “${filter}”` : 'no runs yet');
  const root: Folder = { name: '', id: '', folders: new Map(), runs: [] };
  for (const run of shown) folderOf(root, run.id.split('/').slice(0, -1)).runs.push(run);
  const sweepIds = new Set(sweeps.map((s) => s.id));
  return el('ul', { class: 'tree' }, ...folderItems(root, sweepIds, colors, handlers));
}

function folderOf(root: Folder, path: string[]): Folder {
  let folder = root;
  for (const name of path) {
    let child = folder.folders.get(name);
    if (!child) folder.folders.set(name, (child = { name, id: folder.id ? `${folder.id}/${name}` : name, folders: new Map(), runs: [] }));
    folder = child;
  }
  return folder;
}

function folderItems(folder: Folder, sweepIds: Set<string>, colors: Map<string, string>, handlers: TreeHandlers): HTMLElement[] {
  const folders = [...folder.folders.values()].map((child) => {
    const isSweep = sweepIds.has(child.id);
    return el(
      'li',
      { class: isSweep ? 'folder sweep' : 'folder', 'data-id': child.id },
      el(
        'div',
        { class: 'folder-name' },
        child.name,
        isSweep && el('button', { class: 'sweep-button', title: 'the sweep\'s trials as a table', onclick: () => handlers.showSweep(child.id) }, 'sweep table'),
      ),
      el('ul', {}, ...folderItems(child, sweepIds, colors, handlers)),
    );
  });
  const runs = folder.runs.map((run) => runItem(run, colors.get(run.id), handlers));
  return [...folders, ...runs];
}

function runItem(run: RunSummary, color: string | undefined, handlers: TreeHandlers): HTMLElement {
  const name = run.id.split('/').at(-1)!;
  const status = run.unreadable ? 'unreadable' : (run.status ?? '');
  return el(
    'li',
    { class: `run${color ? ' selected' : ''}`, 'data-id': run.id, title: run.unreadable ?? run.error ?? run.id },
    el(
      'label',
      {},
      el('input', { type: 'checkbox', checked: Boolean(color), onchange: () => handlers.toggleRun(run.id) }),
      el('span', { class: 'swatch', style: color ? `background:${color}` : undefined }),
      el('span', { class: 'run-name' }, name),
    ),
    el('span', { class: `status status-${status}` }, status),
    el('div', { class: 'run-meta' }, runMeta(run)),
  );
}

function runMeta(run: RunSummary): string {
  if (run.unreadable) return run.unreadable;
  const parts = [`${run.steps ?? 0} steps`];
  if (run.lastLoss !== undefined) parts.push(`loss ${run.lastLoss.toPrecision(4)}`);
  if (run.backend) parts.push(run.backend);
  if (run.startedAt) parts.push(localTime(run.startedAt));
  const seconds = runSeconds(run);
  if (seconds !== undefined) parts.push(duration(seconds));
  return parts.join(' · ');
}

/** How long the run ran: until it ended, or until now while it runs. */
export function runSeconds(run: RunSummary): number | undefined {
  if (!run.startedAt) return undefined;
  const end = run.endedAt ?? (run.status === 'running' ? new Date().toISOString() : undefined);
  return end === undefined ? undefined : (Date.parse(end) - Date.parse(run.startedAt)) / 1000;
}
