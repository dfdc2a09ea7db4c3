/**
 * Turns a validated experiment into inversify bindings. Every component is constructed by
 * the container in a child scope that holds its own parameters and path; collaborators
 * (the trainer's model, schedule, callbacks, ...) come by injection. One container per run,
 * no module state.
 */
import { Container, type ServiceIdentifier } from 'inversify';
import { registry, type Kind } from '../registry/index.js';
import type { ComponentConfig } from '../registry/params.js';
import type { BlockFactory, NoiseSchedule, Sampler, Shape3 } from '../interfaces.js';
import { ParamStore } from '../nn/param-store.js';
import { Rng } from '../rng.js';
import { COMPONENT_SECTIONS, INSTANCE_SECTIONS } from '../config/schema.js';
import type { ConfigMap } from '../config/load.js';
import { TOKENS } from './tokens.js';

const SECTION_TOKENS: Record<keyof typeof COMPONENT_SECTIONS, symbol> = {
  trainer: TOKENS.Trainer,
  model: TOKENS.Model,
  dataset: TOKENS.Dataset,
  schedule: TOKENS.Schedule,
  optimizer: TOKENS.Optimizer,
  sampler: TOKENS.Sampler,
};

/** Constructs one registered component in a child container that holds its own bindings. */
export function instantiate<T>(
  parent: Container,
  kind: Kind,
  config: ComponentConfig,
  path: string,
  extra: [ServiceIdentifier, unknown][] = [],
): T {
  const registration = registry.get(kind, config.type);
  const { type: _type, ...params } = config;
  const scope = new Container({ parent });
  scope.bind(TOKENS.Params).toConstantValue(params);
  scope.bind(TOKENS.Path).toConstantValue(path);
  for (const [token, value] of extra) scope.bind(token).toConstantValue(value);
  scope.bind(registration.target).toSelf();
  return scope.get(registration.target) as T;
}

export function assemble(experiment: ConfigMap): Container {
  const container = new Container();
  const seed = Number(experiment.seed ?? 0);
  container.bind(TOKENS.Experiment).toConstantValue(experiment);
  container.bind(TOKENS.Seed).toConstantValue(seed);

  for (const [section, kind] of Object.entries(COMPONENT_SECTIONS) as [keyof typeof COMPONENT_SECTIONS, Kind][]) {
    const config = experiment[section] as ComponentConfig | undefined;
    if (!config) continue;
    container
      .bind(SECTION_TOKENS[section])
      .toDynamicValue(() => instantiate(container, kind, config, section))
      .inSingletonScope();
  }
  for (const [section, kind] of Object.entries(INSTANCE_SECTIONS)) {
    for (const [name, config] of Object.entries((experiment[section] ?? {}) as Record<string, ComponentConfig>)) {
      container
        .bind(TOKENS.Callback)
        .toDynamicValue(() => instantiate(container, kind, config, `${section}.${name}`))
        .inSingletonScope();
    }
  }

  container
    .bind(TOKENS.ImageShape)
    .toDynamicValue((ctx) => (ctx.get(TOKENS.Dataset) as { imageShape: Shape3 }).imageShape)
    .inSingletonScope();
  container
    .bind(TOKENS.ParamStore)
    .toDynamicValue(() => ParamStore.create(new Rng(seed).fork('init')))
    .inSingletonScope();
  const blockFactory: BlockFactory = (config, path, input, store) =>
    instantiate(container, 'block', config, path, [
      [TOKENS.BlockInput, input],
      [TOKENS.ParamStore, store],
    ]);
  container.bind(TOKENS.BlockFactory).toConstantValue(blockFactory);
  return container;
}

/**
 * A sampler from its own config on a run's noise schedule, for callbacks that sample otherwise
 * than the run's sampler does (a cheap DDIM for evaluations, a full DDPM for a final grid).
 */
export function samplerOnSchedule(config: ComponentConfig, schedule: NoiseSchedule, path: string): Sampler {
  const scope = new Container();
  scope.bind(TOKENS.Schedule).toConstantValue(schedule);
  return instantiate<Sampler>(scope, 'sampler', config, path);
}
