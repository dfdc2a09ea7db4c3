/** A sweep's results: one row per trial, printed and saved as summary.csv and summary.json. */
import path from 'node:path';
import { writeFileAtomic } from '../../framework/fsutil.js';
import { csvCell } from '../../framework/records/csv.js';
import type { TrialOutcome } from './launcher.js';

/** Last values shown per trial, where any trial recorded them (the eval callback's FIDs among them). */
const METRICS = ['Training/MSE', 'Training/EMA_MSE', 'Eval/FID', 'Eval/EMA_FID'];

export function summarize(outcomes: TrialOutcome[], sweepDir: string): string {
  const paths = [...new Set(outcomes.flatMap((o) => Object.keys(o.trial.params)))];
  const metrics = METRICS.filter((tag) => outcomes.some((o) => o.info?.metrics?.[tag] !== undefined));
  const header = ['trial', ...paths, 'status', 'steps', ...metrics];
  const rows = outcomes.map((o) => [
    o.trial.name,
    ...paths.map((p) => String(o.trial.params[p] ?? '')),
    o.status,
    String(o.info?.steps ?? 0),
    ...metrics.map((tag) => o.info?.metrics?.[tag]?.toFixed(5) ?? ''),
  ]);
  writeFileAtomic(path.join(sweepDir, 'summary.csv'), [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n');
  const json = outcomes.map((o) => ({
    trial: o.trial.name,
    params: o.trial.params,
    status: o.status,
    steps: o.info?.steps ?? 0,
    metrics: o.info?.metrics ?? {},
    dir: o.dir,
  }));
  writeFileAtomic(path.join(sweepDir, 'summary.json'), `${JSON.stringify(json, null, 2)}\n`);
  const widths = header.map((_, col) => Math.max(...[header, ...rows].map((r) => r[col].length)));
  return [header, ...rows].map((r) => r.map((cell, col) => cell.padEnd(widths[col])).join('  ').trimEnd()).join('\n');
}
