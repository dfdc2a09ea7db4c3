/**
 * How the app turns an experiment file into a built run: a registry of the built-in
 * components (components/index.ts) plus the user's `imports:` and `--import` modules, and the
 * values only the app can provide to components (the feature classifier of sample metrics).
 */
import type { Container } from 'inversify';
import { resolveExperiment, type ResolvedExperiment } from '../framework/config/resolve.js';
import { assemble, type AssembleOptions } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { FeatureClassifierSource } from '../framework/interfaces.js';
import { registerBuiltins } from '../components/index.js';
import { loadClassifier } from './eval/classifier-cache.js';

export interface ExperimentOptions {
  /** `--set` overrides, in order. */
  set?: string[];
  /** `--import` modules, relative to the working directory. */
  import?: string[];
}

/** The experiment validated against a fresh registry of the built-ins and its own modules. */
export function resolveApp(file: string, opts: ExperimentOptions = {}): Promise<ResolvedExperiment> {
  return resolveExperiment(file, { registry: registerBuiltins(), overrides: opts.set ?? [], imports: opts.import ?? [] });
}

/** What the app binds for components beyond the experiment itself. */
export function appBindings(): AssembleOptions {
  const featureClassifier: FeatureClassifierSource = (overrides) => loadClassifier({ overrides });
  return { bindings: [[TOKENS.FeatureClassifier, featureClassifier]] };
}

/** The run's container, with the app's bindings. */
export function assembleApp(experiment: ResolvedExperiment): Container {
  return assemble(experiment, appBindings());
}
