/**
 * Runs a sweep's trials as separate `xp run` processes, `parallel` at a time. A failing trial
 * does not stop the others; Ctrl-C stops all (each trial checkpoints); re-running with resume
 * skips completed trials and resumes the others from their checkpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../framework/paths.js';
import type { RunInfo } from '../../framework/run/run-folder.js';
import { trialOverrides, type Trial } from './trials.js';

export interface TrialOutcome {
  trial: Trial;
  dir: string;
  status: RunInfo['status'] | 'skipped' | 'not started';
  info?: RunInfo;
}

/** What running one trial needs: plain data, so it can travel through a queue to another machine. */
export interface TrialTask {
  file: string;
  sweepDir: string;
  /** Arguments every trial shares (the sweep command's --set and --import). */
  common: string[];
  threadsPerTrial: number;
}

export interface LaunchOptions extends TrialTask {
  parallel: number;
  onEvent: (line: string) => void;
}

const xpBin = path.join(packageRoot, 'bin', 'xp.js');

/** Set for a trial's `xp run`: it ends as soon as the launcher or worker that started it is gone. */
export const EXIT_WITH_PARENT = 'XP_EXIT_WITH_PARENT';

/** In a trial's process: die with the parent (Linux re-parents an orphan, changing its ppid). */
export function exitWithParent(): void {
  if (process.env[EXIT_WITH_PARENT] !== '1') return;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
  }, 500).unref();
}

export async function launchTrials(trials: Trial[], options: LaunchOptions): Promise<TrialOutcome[]> {
  const outcomes: TrialOutcome[] = [];
  const running = new Set<ChildProcess>();
  let stopping = false;
  const stopAll = () => {
    stopping = true;
    for (const child of running) child.kill('SIGINT');
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  const queue = [...trials];
  const worker = async () => {
    for (let trial = queue.shift(); trial && !stopping; trial = queue.shift()) {
      outcomes.push(await runTrial(trial, options, running));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.parallel, trials.length) }, worker));
  } finally {
    process.off('SIGINT', stopAll);
    process.off('SIGTERM', stopAll);
  }
  for (const trial of queue) outcomes.push({ trial, dir: trialDir(options, trial), status: 'not started' });
  return outcomes.sort((a, b) => a.trial.index - b.trial.index);
}

export function trialDir(options: { sweepDir: string }, trial: Trial): string {
  return path.join(options.sweepDir, trial.name);
}

export function readRunInfo(dir: string): RunInfo | undefined {
  const file = path.join(dir, 'run.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as RunInfo) : undefined;
}

/**
 * Runs one trial as an `xp run` process (resuming it if it has a checkpoint, skipping it if
 * it completed). The process exits with its parent, so a killed worker leaves no trial behind.
 */
export async function runTrial(
  trial: Trial,
  options: TrialTask & { onEvent: (line: string) => void },
  running: Set<ChildProcess>,
): Promise<TrialOutcome> {
  const dir = trialDir(options, trial);
  const before = readRunInfo(dir);
  if (before?.status === 'completed') {
    options.onEvent(`${trial.name}: already completed, skipped`);
    return { trial, dir, status: 'skipped', info: before };
  }
  // A trial with a checkpoint continues from it; one killed before its first checkpoint starts over.
  const resumable = before && fs.existsSync(path.join(dir, 'checkpoints')) && fs.readdirSync(path.join(dir, 'checkpoints')).length > 0;
  if (before && !resumable) fs.rmSync(dir, { recursive: true, force: true });
  const threads = `trainer.threads=${options.threadsPerTrial}`;
  const args = resumable
    ? ['run', '--resume', dir, '--set', threads]
    : ['run', options.file, '--run-dir', dir, ...options.common, ...trialOverrides(trial).flatMap((o) => ['--set', o]), '--set', threads];
  options.onEvent(`${trial.name}: ${resumable ? 'resuming' : 'started'}`);
  const log = fs.openSync(path.join(options.sweepDir, `${trial.name}.log`), 'a');
  const child = spawn(process.execPath, [xpBin, ...args], {
    stdio: ['ignore', log, log],
    env: { ...process.env, [EXIT_WITH_PARENT]: '1' },
  });
  running.add(child);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  running.delete(child);
  fs.closeSync(log);
  const info = readRunInfo(dir);
  const status = info?.status ?? 'failed';
  const loss = info?.lastLoss === undefined ? '' : ` (last loss ${info.lastLoss.toFixed(4)})`;
  options.onEvent(`${trial.name}: ${status}${loss}${code ? `, exit code ${code}; see ${trial.name}.log` : ''}`);
  return { trial, dir, status: code && status === 'running' ? 'failed' : status, info };
}
