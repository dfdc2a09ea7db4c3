/**
 * Building an experiment's object graph, with what goes wrong while building reported like
 * a schema error: at the YAML position of the value at fault. `xp validate` builds everything
 * with weights of the right shapes but no initialization; `xp run` builds the run loop before
 * it creates a run folder, so an experiment that cannot be built leaves nothing behind.
 */
import type { Container } from 'inversify';
import type { Trainer } from '../interfaces.js';
import type { ParamStore } from '../nn/param-store.js';
import { ConfigError } from '../config/issues.js';
import { nearestSource } from '../config/validate.js';
import type { ResolvedExperiment } from '../config/resolve.js';
import { BuildError } from '../errors.js';
import { COMPONENT_SECTIONS } from '../config/schema.js';
import { assemble, type AssembleOptions } from './assembly.js';
import { TOKENS } from './tokens.js';

/** The run loop and everything it needs, built now; a build error becomes a positioned ConfigError. */
export function buildTrainer(container: Container, experiment: ResolvedExperiment): Trainer {
  return positioned(experiment, () => container.get<Trainer>(TOKENS.Trainer));
}

/**
 * Builds every component the experiment names (the run loop's and the unused ones alike), then
 * frees what was built; throws a ConfigError at the value at fault.
 */
export function checkBuild(experiment: ResolvedExperiment, options: AssembleOptions = {}): void {
  const container = assemble(experiment, { ...options, initialize: false });
  try {
    positioned(experiment, () => {
      container.get(TOKENS.Trainer);
      for (const section of Object.keys(COMPONENT_SECTIONS)) {
        if (experiment.value[section] !== undefined) container.get(sectionToken(section));
      }
    });
  } finally {
    container.get<ParamStore>(TOKENS.ParamStore).dispose();
  }
}

function sectionToken(section: string): symbol {
  const name = section.replace(/(^|_)(\w)/g, (_, _sep, c: string) => c.toUpperCase());
  return TOKENS[name as keyof typeof TOKENS];
}

function positioned<T>(experiment: ResolvedExperiment, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (!(err instanceof BuildError)) throw err;
    throw new ConfigError([{ pos: nearestSource(experiment.sources, err.path), path: err.path, message: err.reason }]);
  }
}
