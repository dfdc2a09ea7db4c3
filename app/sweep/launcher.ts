/**
 * Runs a sweep's trials as separate `xp run` processes, `parallel` at a time. A failing trial
 * does not stop the others; Ctrl-C stops all (each trial checkpoints); re-running with resume
 * skips completed trials and resumes the others from their checkpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../framework/paths.js';
import { ALLOW_OUTSIDE_PROJECT } from '../../framework/config/load.js';
import { XpError } from '../../framework/errors.js';
import { RunFolder, readRunInfo as readRunRecord, type RunInfo } from '../../framework/run/run-folder.js';
import { RunLock, describeHolder } from '../../framework/run/run-lock.js';
import { trialOverrides, type Trial } from './trials.js';

export interface TrialOutcome {
  trial: Trial;
  dir: string;
  status: RunInfo['status'] | 'skipped' | 'not started';
  info?: RunInfo;
}

/** What running one trial needs: the sweep's folder and its base experiment (sweep-files.ts). */
export interface TrialTask {
  /** The sweep's experiment.yaml. */
  experiment: string;
  sweepDir: string;
  /** Worker threads each trial gets where trials share the cores; undefined: its own setting (`auto`). */
  threadsPerTrial?: number;
  /** Seconds a trial's run folder stays locked after its process stops renewing (the queue's lock time). */
  leaseSeconds?: number;
  /** Let the trial's experiment import modules outside its project (the user's own local sweep). */
  allowOutsideProject: boolean;
}

/**
 * Threads for each of `parallel` trials running at once on this machine: the cores shared out
 * where several run; none where one has the machine, so its experiment's own setting stands
 * (`threads: auto` picks worker threads or oneDNN's by the model's size).
 */
export function threadsPerTrial(parallel: number): number | undefined {
  return parallel > 1 ? Math.max(1, Math.floor(os.cpus().length / parallel)) : undefined;
}

export interface LaunchOptions extends TrialTask {
  parallel: number;
  onEvent: (line: string) => void;
}

export interface LaunchResult {
  outcomes: TrialOutcome[];
  /** The signal that stopped the sweep, if one did. */
  signal?: NodeJS.Signals;
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

export async function launchTrials(trials: Trial[], options: LaunchOptions): Promise<LaunchResult> {
  const outcomes: TrialOutcome[] = [];
  const running = new Set<ChildProcess>();
  let signal: NodeJS.Signals | undefined;
  const stopAll = (received: NodeJS.Signals) => {
    signal ??= received;
    for (const child of running) child.kill('SIGINT');
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  const queue = [...trials];
  const worker = async () => {
    while (!signal && queue.length) {
      outcomes.push(await runTrial(queue.shift()!, { ...options, stopping: () => signal !== undefined }, running));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.parallel, trials.length) }, worker));
  } finally {
    process.off('SIGINT', stopAll);
    process.off('SIGTERM', stopAll);
  }
  for (const trial of queue) outcomes.push({ trial, dir: trialDir(options, trial), status: 'not started' });
  return { outcomes: outcomes.sort((a, b) => a.trial.index - b.trial.index), signal };
}

export function trialDir(options: { sweepDir: string }, trial: Trial): string {
  return path.join(options.sweepDir, trial.name);
}

/** A trial's run record; undefined where the trial has none yet or it cannot be read. */
export function readRunInfo(dir: string): RunInfo | undefined {
  try {
    return readRunRecord(dir);
  } catch (err) {
    if (err instanceof XpError) return undefined;
    throw err;
  }
}

/**
 * Runs one trial as an `xp run` process: resuming it where it has a run folder (from its last
 * checkpoint, or from the start if it has none), skipping it if it completed. Nothing is ever
 * deleted. The process exits with its parent, so a killed worker leaves no trial behind; one
 * that dies without recording its end gets its run.json set here.
 */
export async function runTrial(
  trial: Trial,
  options: TrialTask & { onEvent: (line: string) => void; stopping?: () => boolean },
  running: Set<ChildProcess>,
): Promise<TrialOutcome> {
  const dir = trialDir(options, trial);
  await waitWhileWritten(dir, trial, options.onEvent);
  const before = readRunInfo(dir);
  if (before?.status === 'completed') {
    options.onEvent(`${trial.name}: already completed, skipped`);
    return { trial, dir, status: 'skipped', info: before };
  }
  const resuming = fs.existsSync(path.join(dir, 'run.json'));
  const threads = options.threadsPerTrial === undefined ? [] : ['--set', `trainer.threads=${options.threadsPerTrial}`];
  const common = [...threads, '--lease-seconds', String(options.leaseSeconds ?? 30)];
  const args = resuming
    ? ['run', '--resume', dir, ...common]
    : ['run', options.experiment, '--run-dir', dir, ...trialOverrides(trial).flatMap((o) => ['--set', o]), ...common];
  options.onEvent(`${trial.name}: ${resuming ? 'resuming' : 'started'}`);
  const { code, signal } = await runChild(args, path.join(options.sweepDir, `${trial.name}.log`), options.allowOutsideProject, running);
  const stopped = options.stopping?.() ?? false;
  const info = recordDeadTrial(dir, stopped, code, signal) ?? readRunInfo(dir);
  const status = info?.status ?? (stopped ? 'not started' : 'failed');
  const loss = info?.lastLoss === undefined ? '' : ` (last loss ${info.lastLoss.toFixed(4)})`;
  const failedCode = code && status !== 'interrupted' ? `, exit code ${code}; see ${trial.name}.log` : '';
  options.onEvent(`${trial.name}: ${status}${loss}${failedCode}`);
  return { trial, dir, status, info };
}

/** Another process writes the trial (a worker that lost the queue's lock, still finishing): wait for it. */
async function waitWhileWritten(dir: string, trial: Trial, onEvent: (line: string) => void): Promise<void> {
  let announced = false;
  for (let holder = RunLock.liveHolder(dir); holder; holder = RunLock.liveHolder(dir)) {
    if (!announced) onEvent(`${trial.name}: waiting for ${describeHolder(holder)} to finish with it`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function runChild(args: string[], logFile: string, allowOutsideProject: boolean, running: Set<ChildProcess>) {
  const env: NodeJS.ProcessEnv = { ...process.env, [EXIT_WITH_PARENT]: '1' };
  if (allowOutsideProject) env[ALLOW_OUTSIDE_PROJECT] = '1';
  else delete env[ALLOW_OUTSIDE_PROJECT];
  const log = fs.openSync(logFile, 'a');
  // Detached: a terminal's Ctrl-C reaches the launcher alone, which asks each trial to stop once.
  const child = spawn(process.execPath, [xpBin, ...args], { stdio: ['ignore', log, log], env, detached: true });
  running.add(child);
  try {
    return await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  } finally {
    running.delete(child);
    fs.closeSync(log);
  }
}

/**
 * A trial process that died before recording its end (killed by a signal, out of memory) left
 * run.json at running: set it to interrupted (the sweep was stopping) or failed, under the
 * folder's lock, which a dead process no longer holds. Returns the new record, if it wrote one.
 */
function recordDeadTrial(dir: string, stopped: boolean, code: number | null, signal: NodeJS.Signals | null): RunInfo | undefined {
  if (readRunInfo(dir)?.status !== 'running' || RunLock.liveHolder(dir)) return undefined;
  const folder = RunFolder.open(dir);
  folder.lockForWriting();
  try {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    folder.update({
      status: stopped ? 'interrupted' : 'failed',
      ...(stopped ? {} : { error: `the trial's process ${how} before recording its end` }),
      endedAt: new Date().toISOString(),
    });
  } finally {
    folder.release();
  }
  return readRunInfo(dir);
}
