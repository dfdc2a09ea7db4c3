/**
 * A sweep's own files, at the root of its folder: `experiment.yaml`, the resolved base
 * experiment every trial overrides (the sweep command's --set and --import applied), and
 * `sweep.json`, its trials. A trial is run from these alone, on any machine that shares the
 * runs folder; read back, they are checked like anything else that crossed a boundary.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { XpError } from '../../framework/errors.js';
import { writeFileAtomic } from '../../framework/fsutil.js';
import type { ConfigMap } from '../../framework/config/load.js';
import { trialProblem, type Trial } from './trials.js';

export const SWEEP_FILE = 'sweep.json';
export const EXPERIMENT_FILE = 'experiment.yaml';

export interface SweepFiles {
  dir: string;
  /** The base experiment the trials override. */
  experiment: string;
  trials: Trial[];
}

export function writeSweepFiles(dir: string, experiment: ConfigMap, trials: Trial[]): SweepFiles {
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, EXPERIMENT_FILE), stringify(experiment));
  writeFileAtomic(path.join(dir, SWEEP_FILE), `${JSON.stringify({ experiment: EXPERIMENT_FILE, trials }, null, 2)}\n`);
  return { dir, experiment: path.join(dir, EXPERIMENT_FILE), trials };
}

/** The sweep of a folder, every trial checked (plain names, plain parameter paths, scalar values). */
export function readSweepFiles(dir: string): SweepFiles {
  const file = path.join(dir, SWEEP_FILE);
  if (!fs.existsSync(file)) throw new XpError(`${dir} is not a sweep folder: it has no ${SWEEP_FILE}`);
  let content: { experiment?: unknown; trials?: unknown };
  try {
    content = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new XpError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (content?.experiment !== EXPERIMENT_FILE) throw new XpError(`${file}: experiment: expected "${EXPERIMENT_FILE}"`);
  if (!Array.isArray(content.trials)) throw new XpError(`${file}: trials: expected a list`);
  const trials = content.trials as Trial[];
  trials.forEach((trial, index) => {
    const problem = trialProblem(trial) ?? (trial.index === index ? undefined : `trial ${index} says it is trial ${trial.index}`);
    if (problem) throw new XpError(`${file}: trials.${index}: ${problem}`);
  });
  const experiment = path.join(dir, EXPERIMENT_FILE);
  if (!fs.existsSync(experiment)) throw new XpError(`${dir}: the sweep has no ${EXPERIMENT_FILE}`);
  return { dir, experiment, trials };
}
