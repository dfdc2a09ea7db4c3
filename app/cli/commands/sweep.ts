/**
 * `xp sweep FILE [--grid path=a,b,c] [--parallel N] [--dry-run] [--resume]`: every trial is an
 * ordinary run in runs/<sweep>/<timestamp>/<trial-k-key=value>/, validated before any starts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseYamlValue } from '../../../framework/config/yaml-source.js';
import { resolveApp } from '../../experiment.js';
import { ConfigError, type Issue } from '../../../framework/config/issues.js';
import { XpError } from '../../../framework/errors.js';
import { gpuVisible } from '../../../framework/backend.js';
import { hparamsExperiment } from '../../../framework/records/tensorboard/writer.js';
import { timestamp } from '../../../framework/run/run-folder.js';
import { expandTrials, parseGridArgument, trialOverrides, type SweepSpec, type Trial, type Value } from '../../sweep/trials.js';
import { launchTrials, readRunInfo, threadsPerTrial, trialDir, type TrialOutcome } from '../../sweep/launcher.js';
import { QUEUE_SECRET, enqueueTrials, runWorker, waitForTrials } from '../../sweep/redis.js';
import { readSweepFiles, writeSweepFiles } from '../../sweep/sweep-files.js';
import { summarize } from '../../sweep/summary.js';

/** The exit status of a sweep stopped by a signal, as a shell reports one. */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export interface SweepOptions {
  grid?: string[];
  set?: string[];
  import?: string[];
  parallel?: number;
  dryRun?: boolean;
  resume?: boolean;
  runsDir?: string;
  launcher?: 'local' | 'redis';
  redis?: string;
  detach?: boolean;
}

export async function sweep(file: string, opts: SweepOptions): Promise<void> {
  const base = await resolveApp(file, opts);
  const spec = (base.value.sweep ?? {}) as SweepSpec & { name?: string; parallel?: number };
  const grid = { ...spec.grid, ...Object.fromEntries((opts.grid ?? []).map((g) => parseGridArgument(g, (v) => parseYamlValue(v) as Value))) };
  const trials = expandTrials({ ...spec, grid });
  // Like Hydra's basic sweeper: every trial must compose before the first one runs.
  await validateTrials(file, opts, trials);
  if (opts.dryRun) {
    console.log(trials.map((t) => `${t.name}\n    ${trialOverrides(t).join('  ') || '(the base experiment)'}`).join('\n'));
    return;
  }
  const runsRoot = path.resolve(opts.runsDir ?? process.env.XP_RUNS_DIR ?? 'runs');
  const root = path.join(runsRoot, spec.name ?? String(base.value.name));
  const sweepDir = opts.resume ? newestSweep(root) : path.join(root, timestamp(new Date()));
  // Trials run from the sweep's own copy of the experiment, on this machine or any worker's.
  const files = writeSweepFiles(sweepDir, base.value, trials);
  if (!opts.resume) writeHparamsExperiment(sweepDir, trials);
  const onEvent = (line: string) => console.error(line);
  if ((opts.launcher ?? 'local') === 'redis') {
    if (!opts.redis) throw new XpError('--launcher redis needs --redis redis://HOST:PORT');
    const ids = await enqueueTrials(opts.redis, runsRoot, sweepDir, trials, process.env[QUEUE_SECRET]);
    console.error(`sweep: ${trials.length} trials queued on ${opts.redis}; start workers with: xp worker --redis ${opts.redis} --runs-dir ${runsRoot}`);
    if (opts.detach) {
      console.error(`see progress with: xp sweep --status ${sweepDir}`);
      return;
    }
    await waitForTrials(opts.redis, ids, onEvent);
    reportOutcomes(trials.map((trial) => outcomeOf(trial, sweepDir)), sweepDir);
    return;
  }
  const parallel = opts.parallel ?? spec.parallel ?? (gpuVisible() ? 1 : os.cpus().length);
  console.error(`sweep: ${trials.length} trials in ${sweepDir}, ${parallel} at a time`);
  // The user's own sweep: its experiment was loaded under their rules already, imports included.
  const task = { experiment: files.experiment, sweepDir, threadsPerTrial: threadsPerTrial(parallel), allowOutsideProject: true };
  const { outcomes, signal } = await launchTrials(trials, { ...task, parallel, onEvent });
  reportOutcomes(outcomes, sweepDir, signal);
}

/** `xp sweep --status SWEEP_DIR`: the trials' states from their run folders (works while a sweep runs elsewhere). */
export function sweepStatus(sweepDir: string): void {
  const { trials } = readSweepFiles(sweepDir);
  console.log(summarize(trials.map((trial) => outcomeOf(trial, sweepDir)), sweepDir));
}

function outcomeOf(trial: Trial, sweepDir: string): TrialOutcome {
  const dir = trialDir({ sweepDir }, trial);
  const info = readRunInfo(dir);
  return { trial, dir, status: info?.status ?? 'not started', info };
}

function reportOutcomes(outcomes: TrialOutcome[], sweepDir: string, signal?: NodeJS.Signals): void {
  console.log(summarize(outcomes, sweepDir));
  const failed = outcomes.filter((o) => o.status !== 'completed' && o.status !== 'skipped');
  if (!failed.length) return;
  const states = ['failed', 'interrupted', 'not started']
    .map((status) => [status, failed.filter((o) => o.status === status).length] as const)
    .filter(([, count]) => count > 0)
    .map(([status, count]) => `${count} ${status}`);
  throw new XpError(
    `${signal ? `${signal}: ` : ''}${failed.length} of ${outcomes.length} trials did not complete (${states.join(', ')}: ` +
      `${failed.map((o) => o.trial.name).join(', ')}); re-run with --resume`,
    signal ? (SIGNAL_EXIT[signal] ?? 1) : 1,
  );
}

async function validateTrials(file: string, opts: SweepOptions, trials: Trial[]): Promise<void> {
  const issues: Issue[] = [];
  for (const trial of trials) {
    try {
      await resolveApp(file, { set: [...(opts.set ?? []), ...trialOverrides(trial)], import: opts.import });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues.map((i) => ({ ...i, message: `${trial.name}: ${i.message}` })));
    }
  }
  if (issues.length) throw new ConfigError(issues);
}

function newestSweep(root: string): string {
  const stamps = fs.existsSync(root) ? fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'sweep.json'))).sort() : [];
  if (!stamps.length) throw new XpError(`--resume: no earlier sweep in ${root}`);
  return path.join(root, stamps[stamps.length - 1]);
}

/** One experiment summary at the sweep root: TensorBoard's HParams dashboard then compares the trials. */
function writeHparamsExperiment(sweepDir: string, trials: Trial[]): void {
  const paths = [...new Set(trials.flatMap((t) => Object.keys(t.params)))];
  hparamsExperiment(sweepDir, {
    hparams: paths.map((name) => ({ name, domain: [...new Set(trials.map((t) => t.params[name]).filter((v) => v !== undefined))] })),
    metrics: [{ tag: 'Training/MSE' }, { tag: 'Training/EMA_MSE' }],
  });
}

/** `xp worker --redis URL`: run queued trials until stopped. */
export async function worker(opts: { redis: string; runsDir?: string; concurrency?: number; lockSeconds?: number; allowImports?: boolean }): Promise<void> {
  const runsRoot = path.resolve(opts.runsDir ?? process.env.XP_RUNS_DIR ?? 'runs');
  if (!fs.existsSync(runsRoot)) throw new XpError(`--runs-dir ${runsRoot}: no such folder`);
  await runWorker(opts.redis, {
    runsRoot,
    concurrency: opts.concurrency ?? 1,
    lockSeconds: opts.lockSeconds ?? 30,
    allowImports: opts.allowImports ?? false,
    secret: process.env[QUEUE_SECRET] || undefined,
    onEvent: (line) => console.error(line),
  });
}
