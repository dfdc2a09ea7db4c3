/**
 * Turns a validated experiment into inversify bindings. Every component is constructed by
 * the container in a child scope that holds its own parameters and path; collaborators
 * (the run loop's model, objective, callbacks, a callback's sampler factory, ...) come by
 * injection. One container per run, no module state. An error raised while a component is
 * built names the component's path (BuildError), so it can be reported at its YAML position.
 */
import { Container, type Newable, type ServiceIdentifier } from 'inversify';
import type { Kind, Registry } from '../registry/registry.js';
import type { BlockFactory, ComponentConfig, SamplerFactory, Shape3 } from '../interfaces.js';
import { ParamStore } from '../nn/param-store.js';
import { Rng } from '../rng.js';
import { COMPONENT_SECTIONS, INSTANCE_SECTIONS } from '../config/schema.js';
import type { ConfigMap } from '../config/load.js';
import { BuildError, XpError } from '../errors.js';
import { Runner } from '../training/runner.js';
import { TOKENS } from './tokens.js';

/** What assembly needs of a resolved experiment: its values and the registry they name. */
export interface Assemblable {
  value: ConfigMap;
  registry: Registry;
}

export interface AssembleOptions {
  /** Values the app provides to components (the feature classifier, say). */
  bindings?: [ServiceIdentifier, unknown][];
  /** false: weights get their shapes but no initial values (zeros), for a build that only checks. Default true. */
  initialize?: boolean;
}

const SECTION_TOKENS: Record<keyof typeof COMPONENT_SECTIONS, symbol> = {
  objective: TOKENS.Objective,
  model: TOKENS.Model,
  dataset: TOKENS.Dataset,
  schedule: TOKENS.Schedule,
  optimizer: TOKENS.Optimizer,
  lr_schedule: TOKENS.LrSchedule,
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
  const registry = parent.get<Registry>(TOKENS.Registry);
  const { type: _type, ...params } = config;
  return construct<T>(parent, registry.get(kind, config.type).target as Newable<T>, params, path, extra);
}

/** Constructs `target` with its parameters and path bound; an error names the path it was built for. */
function construct<T>(parent: Container, target: Newable<T>, params: object, path: string, extra: [ServiceIdentifier, unknown][] = []): T {
  const scope = new Container({ parent });
  scope.bind(TOKENS.Params).toConstantValue(params);
  scope.bind(TOKENS.Path).toConstantValue(path);
  for (const [token, value] of extra) scope.bind(token).toConstantValue(value);
  scope.bind(target).toSelf();
  try {
    return scope.get(target);
  } catch (err) {
    throw asBuildError(err, path);
  }
}

/**
 * The innermost component's error stays as it is (it knows the most precise path); anything
 * else becomes a BuildError at `path`. Inversify wraps errors thrown by constructors, so the
 * original is found through `cause`.
 */
function asBuildError(err: unknown, path: string): BuildError {
  for (let e = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (e instanceof BuildError) return e;
    if (e instanceof XpError) return new BuildError(path, e.message);
  }
  return new BuildError(path, err instanceof Error ? err.message : String(err));
}

export function assemble({ value: experiment, registry }: Assemblable, options: AssembleOptions = {}): Container {
  const container = new Container();
  const seed = Number(experiment.seed ?? 0);
  container.bind(TOKENS.Experiment).toConstantValue(experiment);
  container.bind(TOKENS.Registry).toConstantValue(registry);
  container.bind(TOKENS.Seed).toConstantValue(seed);
  for (const [token, value] of options.bindings ?? []) container.bind(token).toConstantValue(value);

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
    .bind(TOKENS.Trainer)
    .toDynamicValue(() => construct(container, Runner, (experiment.trainer ?? {}) as object, 'trainer'))
    .inSingletonScope();

  container
    .bind(TOKENS.ImageShape)
    .toDynamicValue((ctx) => (ctx.get(TOKENS.Dataset) as { imageShape: Shape3 }).imageShape)
    .inSingletonScope();
  container
    .bind(TOKENS.ParamStore)
    .toDynamicValue(() => ParamStore.create(new Rng(seed).fork('init'), { initialize: options.initialize ?? true }))
    .inSingletonScope();
  const blockFactory: BlockFactory = (config, path, input, store) =>
    instantiate(container, 'block', config, path, [
      [TOKENS.BlockInput, input],
      [TOKENS.ParamStore, store],
    ]);
  container.bind(TOKENS.BlockFactory).toConstantValue(blockFactory);
  const samplerFactory: SamplerFactory = (config, path) => instantiate(container, 'sampler', config, path);
  container.bind(TOKENS.SamplerFactory).toConstantValue(samplerFactory);
  return container;
}
