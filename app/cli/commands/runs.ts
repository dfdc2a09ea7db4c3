/** `xp runs [DIR]`: every run folder under DIR (default ./runs) with its status, steps and last loss. */
import fs from 'node:fs';
import path from 'node:path';
import { runFoldersBelow, type RunInfo } from '../../../framework/run/run-folder.js';

export function runs(dir: string | undefined): void {
  const root = dir ?? process.env.XP_RUNS_DIR ?? 'runs';
  const found = findRuns(root);
  if (!found.length) {
    console.log(`no runs under ${root}`);
    return;
  }
  const rows = [
    ['run', 'status', 'steps', 'last loss', 'backend', 'started'],
    ...found.map(({ dir: runDir, info }) => [
      path.relative(root, runDir),
      info.status,
      String(info.steps),
      info.lastLoss === undefined ? '-' : info.lastLoss.toFixed(4),
      info.backend,
      info.startedAt.replace('T', ' ').slice(0, 19),
    ]),
  ];
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  console.log(rows.map((r) => r.map((cell, col) => cell.padEnd(widths[col])).join('  ').trimEnd()).join('\n'));
}

function findRuns(dir: string): { dir: string; info: RunInfo }[] {
  return runFoldersBelow(dir).map((runDir) => ({ dir: runDir, info: JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunInfo }));
}
