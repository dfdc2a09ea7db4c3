/**
 * `xp sweep FILE [--grid path=a,b,c] [--parallel N] [--dry-run] [--resume]`: every trial is an
 * ordinary run in runs/<sweep>/<timestamp>/<trial-k-key=value>/, validated before any starts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { resolveApp } from '../../experiment.js';
import { ConfigError, type Issue } from '../../../framework/config/issues.js';
import { XpError } from '../../../framework/errors.js';
import { gpuVisible } from '../../../framework/backend.js';
import { hparamsExperiment } from '../../../framework/records/tensorboard/writer.js';
import { writeFileAtomic } from '../../../framework/fsutil.js';
import { timestamp } from '../../../framework/run/run-folder.js';
import { expandTrials, parseGridArgument, trialOverrides, type SweepSpec, type Trial, type Value } from '../../sweep/trials.js';
import { launchTrials, readRunInfo, trialDir, type TrialOutcome } from '../../sweep/launcher.js';
import { enqueueTrials, runWorker, waitForTrials } from '../../sweep/redis.js';
import { summarize } from '../../sweep/summary.js';

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
  const common = [...(opts.set ?? []).flatMap((o) => ['--set', o]), ...(opts.import ?? []).flatMap((m) => ['--import', path.resolve(m)])];
  const base = await resolveApp(file, opts);
  const spec = (base.value.sweep ?? {}) as SweepSpec & { name?: string; parallel?: number };
  const grid = { ...spec.grid, ...Object.fromEntries((opts.grid ?? []).map((g) => parseGridArgument(g, (v) => parseYaml(v) as Value))) };
  const trials = expandTrials({ ...spec, grid });
  // Like Hydra's basic sweeper: every trial must compose before the first one runs.
  await validateTrials(file, opts, trials);
  if (opts.dryRun) {
    console.log(trials.map((t) => `${t.name}\n    ${trialOverrides(t).join('  ') || '(the base experiment)'}`).join('\n'));
    return;
  }
  const root = path.resolve(opts.runsDir ?? process.env.XP_RUNS_DIR ?? 'runs', spec.name ?? String(base.value.name));
  const sweepDir = opts.resume ? newestSweep(root) : path.join(root, timestamp(new Date()));
  fs.mkdirSync(sweepDir, { recursive: true });
  writeFileAtomic(path.join(sweepDir, 'sweep.json'), `${JSON.stringify({ file: path.resolve(file), common, trials }, null, 2)}\n`);
  if (!opts.resume) writeHparamsExperiment(sweepDir, trials);
  const task = { file: path.resolve(file), sweepDir, common };
  const onEvent = (line: string) => console.error(line);
  let outcomes: TrialOutcome[];
  if ((opts.launcher ?? 'local') === 'redis') {
    if (!opts.redis) throw new XpError('--launcher redis needs --redis redis://HOST:PORT');
    const ids = await enqueueTrials(opts.redis, task, trials);
    console.error(`sweep: ${trials.length} trials queued on ${opts.redis}; start workers with: xp worker --redis ${opts.redis}`);
    if (opts.detach) {
      console.error(`see progress with: xp sweep --status ${sweepDir}`);
      return;
    }
    await waitForTrials(opts.redis, ids, onEvent);
    outcomes = trials.map((trial) => outcomeOf(trial, sweepDir));
  } else {
    const parallel = opts.parallel ?? spec.parallel ?? (gpuVisible() ? 1 : os.cpus().length);
    console.error(`sweep: ${trials.length} trials in ${sweepDir}, ${parallel} at a time`);
    const threadsPerTrial = Math.max(1, Math.floor(os.cpus().length / parallel));
    outcomes = await launchTrials(trials, { ...task, parallel, threadsPerTrial, onEvent });
  }
  reportOutcomes(outcomes, sweepDir);
}

/** `xp sweep --status SWEEP_DIR`: the trials' states from their run folders (works while a sweep runs elsewhere). */
export function sweepStatus(sweepDir: string): void {
  const file = path.join(sweepDir, 'sweep.json');
  if (!fs.existsSync(file)) throw new XpError(`${sweepDir} is not a sweep folder: it has no sweep.json`);
  const { trials } = JSON.parse(fs.readFileSync(file, 'utf8')) as { trials: Trial[] };
  console.log(summarize(trials.map((trial) => outcomeOf(trial, sweepDir)), sweepDir));
}

function outcomeOf(trial: Trial, sweepDir: string): TrialOutcome {
  const dir = trialDir({ sweepDir }, trial);
  const info = readRunInfo(dir);
  return { trial, dir, status: info?.status ?? 'not started', info };
}

function reportOutcomes(outcomes: TrialOutcome[], sweepDir: string): void {
  console.log(summarize(outcomes, sweepDir));
  const failed = outcomes.filter((o) => o.status !== 'completed' && o.status !== 'skipped');
  if (failed.length) {
    throw new XpError(
      `${failed.length} of ${outcomes.length} trials did not complete (${failed.map((o) => o.trial.name).join(', ')}); re-run with --resume`,
    );
  }
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
export async function worker(opts: { redis: string; concurrency?: number; lockSeconds?: number }): Promise<void> {
  await runWorker(opts.redis, {
    concurrency: opts.concurrency ?? 1,
    lockSeconds: opts.lockSeconds ?? 30,
    onEvent: (line) => console.error(line),
  });
}
