/**
 * A sweep's trials: the cartesian product of a grid over dotted paths, explicit trials, and
 * random draws, each trial a set of overrides of the base experiment.
 */
import { stringify } from 'yaml';
import { Rng } from '../../framework/rng.js';
import { XpError } from '../../framework/errors.js';
import { forbiddenKeyMessage, isForbiddenKey } from '../../framework/config/plain-keys.js';

export type Value = number | string | boolean;

export interface RandomRange {
  min: number;
  max: number;
  /** Draw uniformly in log space (learning rates, say). */
  log?: boolean;
}

export interface SweepSpec {
  grid?: Record<string, Value[]>;
  trials?: Record<string, Value>[];
  random?: { seed?: number; count: number; params: Record<string, Value[] | RandomRange> };
}

export interface Trial {
  index: number;
  params: Record<string, Value>;
  /** Folder name: `trial-<k>-<key=value,...>` with the last path segment as key. */
  name: string;
}

export function expandTrials(spec: SweepSpec): Trial[] {
  const combos = [...gridCombos(spec.grid ?? {}), ...(spec.trials ?? []), ...randomCombos(spec.random)];
  if (!combos.length) throw new XpError('the sweep has no trials: give a grid, trials or random search');
  const trials = combos.map((params, index) => ({ index, params, name: trialName(index, params) }));
  for (const trial of trials) {
    const problem = trialProblem(trial);
    if (problem) throw new XpError(`sweep: ${problem}`);
  }
  return trials;
}

/** What a trial's folder may be called: its index, then its parameters in plain characters. */
const TRIAL_NAME = /^trial-\d{1,6}(-[A-Za-z0-9_.,=+-]{0,80})?$/;
/** One segment of a swept parameter's dotted path: a key or a list index. */
const PATH_SEGMENT = /^[A-Za-z0-9_-]{1,100}$/;
/** Sections a sweep may not vary: they name files to read or run, and the run's folder. */
const UNSWEPT = new Set(['imports', 'extends', 'name']);

/**
 * Why a trial (built here, or read back from a sweep.json that crossed machines) is unusable,
 * or undefined: a plain folder name, parameter paths of plain segments outside imports/extends/
 * name, and finite scalar values.
 */
export function trialProblem(trial: Trial): string | undefined {
  if (typeof trial !== 'object' || trial === null) return 'a trial must be an object';
  const { index, name, params } = trial;
  const label = typeof name === 'string' ? name : `trial ${String(index)}`;
  if (!Number.isInteger(index) || index < 0) return `${label}: the index must be a non-negative integer`;
  if (typeof name !== 'string' || !TRIAL_NAME.test(name) || !(name === `trial-${index}` || name.startsWith(`trial-${index}-`))) {
    return `${label}: not a trial folder name (trial-${index}-<plain characters>)`;
  }
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return `${label}: params must be a map`;
  for (const [dotted, value] of Object.entries(params)) {
    const segments = dotted.split('.');
    const forbidden = segments.find(isForbiddenKey);
    if (forbidden) return `${label}: ${dotted}: ${forbiddenKeyMessage(forbidden)}`;
    if (!segments.every((s) => PATH_SEGMENT.test(s))) return `${label}: '${dotted}' is not a dotted path of plain keys`;
    if (UNSWEPT.has(segments[0])) return `${label}: '${dotted}': a sweep cannot vary '${segments[0]}'`;
    const scalar = typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length <= 1000);
    if (!scalar) return `${label}: ${dotted}: a value must be a finite number, a string or a boolean`;
  }
  return undefined;
}

function gridCombos(grid: Record<string, Value[]>): Record<string, Value>[] {
  const axes = Object.entries(grid);
  if (!axes.length) return [];
  return axes.reduce<Record<string, Value>[]>(
    (combos, [path, values]) => combos.flatMap((combo) => values.map((value) => ({ ...combo, [path]: value }))),
    [{}],
  );
}

function randomCombos(random: SweepSpec['random']): Record<string, Value>[] {
  if (!random) return [];
  const rng = new Rng(random.seed ?? 0);
  return Array.from({ length: random.count }, () =>
    Object.fromEntries(Object.entries(random.params).map(([path, domain]) => [path, draw(rng, domain)])),
  );
}

function draw(rng: Rng, domain: Value[] | RandomRange): Value {
  if (Array.isArray(domain)) return domain[rng.int(0, domain.length - 1)];
  const { min, max, log } = domain;
  if (log) return Math.exp(Math.log(min) + rng.float() * (Math.log(max) - Math.log(min)));
  return min + rng.float() * (max - min);
}

function trialName(index: number, params: Record<string, Value>): string {
  const parts = Object.entries(params).map(([path, value]) => `${path.split('.').pop()}=${String(value)}`);
  const label = parts.join(',').replace(/[^A-Za-z0-9_.,=+-]+/g, '_').slice(0, 80);
  return label ? `trial-${index}-${label}` : `trial-${index}`;
}

/** The trial as `--set` overrides (values written as YAML so they parse back to the same type). */
export function trialOverrides(trial: Trial): string[] {
  return Object.entries(trial.params).map(([path, value]) => `${path}=${stringify(value).trim()}`);
}

/** `path=v1,v2,...` from the command line, values parsed as YAML scalars. */
export function parseGridArgument(text: string, parse: (value: string) => Value): [string, Value[]] {
  const eq = text.indexOf('=');
  if (eq < 1) throw new XpError(`--grid ${text}: expected path=value1,value2,...`);
  return [text.slice(0, eq), text.slice(eq + 1).split(',').map(parse)];
}
