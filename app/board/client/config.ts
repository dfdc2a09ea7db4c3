/**
 * The config tab: the resolved experiment of one run, or the lines in which two runs' configs
 * differ (standard vs EMA: only the EMA lines), the identical stretches folded.
 */
import { diffLines } from 'diff';
import { el } from './dom.js';
import type { ShownRun } from './selection.js';

export function renderConfig(runs: ShownRun[]): HTMLElement {
  if (runs.length === 0) return el('p', { class: 'empty' }, 'select a run on the left (two to compare their configs)');
  if (runs.length > 2) return el('p', { class: 'empty' }, 'select one run for its config, or two to compare them');
  const [a, b] = runs;
  if (!b) return el('div', {}, el('h3', {}, `${a.label}: config.yaml`), el('pre', { class: 'config' }, a.detail?.config ?? ''));
  return el(
    'div',
    {},
    el('h3', {}, 'config.yaml: ', el('span', { class: 'removed' }, `− ${a.label}`), ' ', el('span', { class: 'added' }, `+ ${b.label}`)),
    configDiff(a.detail?.config ?? '', b.detail?.config ?? ''),
  );
}

function configDiff(before: string, after: string): HTMLElement {
  const parts = diffLines(before, after);
  if (parts.every((part) => !part.added && !part.removed)) return el('p', { class: 'empty' }, 'the two configs are the same');
  const lines = parts.flatMap((part) => {
    const text = part.value.replace(/\n$/, '').split('\n');
    if (part.added) return text.map((line) => el('div', { class: 'added' }, `+ ${line}`));
    if (part.removed) return text.map((line) => el('div', { class: 'removed' }, `− ${line}`));
    return [el('div', { class: 'same' }, `… ${text.length} identical line${text.length === 1 ? '' : 's'}`)];
  });
  return el('pre', { class: 'config diff' }, ...lines);
}
