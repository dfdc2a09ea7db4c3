/**
 * `xp runs [DIR]`: every run folder under DIR (default ./runs) with its status, steps and last loss;
 * a run whose writer died without a word is listed as crashed.
 */
import path from 'node:path';
import { XpError } from '../../../framework/errors.js';
import { observedStatus, readRunInfo, runFoldersBelow, type RunInfo } from '../../../framework/run/run-folder.js';

export function runs(dir: string | undefined): void {
  const root = dir ?? process.env.XP_RUNS_DIR ?? 'runs';
  const found = runFoldersBelow(root);
  if (!found.length) {
    console.log(`no runs under ${root}`);
    return;
  }
  const rows = [['run', 'status', 'steps', 'last loss', 'backend', 'started'], ...found.map((runDir) => row(root, runDir))];
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  console.log(rows.map((r) => r.map((cell, col) => cell.padEnd(widths[col])).join('  ').trimEnd()).join('\n'));
}

/** A run's line; a run.json that cannot be read is listed as unreadable, with why, and the others still are. */
function row(root: string, runDir: string): string[] {
  const name = path.relative(root, runDir);
  let info: RunInfo;
  try {
    info = readRunInfo(runDir);
  } catch (err) {
    if (!(err instanceof XpError)) throw err;
    return [name, 'unreadable', '-', '-', '-', err.message.replace(`${path.join(runDir, 'run.json')}: `, '')];
  }
  return [
    name,
    observedStatus(runDir, info),
    String(info.steps),
    typeof info.lastLoss === 'number' ? info.lastLoss.toFixed(4) : '-',
    String(info.backend ?? '-'),
    String(info.startedAt ?? '-').replace('T', ' ').slice(0, 19),
  ];
}
