/**
 * Injection tokens: every constructor parameter of a component names one of these with an
 * explicit `@inject` (esbuild-based loaders emit no decorator metadata, so nothing is
 * inferred from types). Symbol.for keeps tokens equal across copies of this module.
 */
export const TOKENS = {
  /** The component's own validated parameters (defaults filled in). */
  Params: Symbol.for('xp.Params'),
  /** The component's dotted path in the experiment, e.g. `callbacks.ema` or `model.stages.down1.0`. */
  Path: Symbol.for('xp.Path'),
  /** The whole resolved experiment. */
  Experiment: Symbol.for('xp.Experiment'),
  /** The registry the experiment's component names resolve in. */
  Registry: Symbol.for('xp.Registry'),
  /** The run's root random generator state; components fork their own streams from it. */
  Seed: Symbol.for('xp.Seed'),

  /** The run loop (framework/training/runner.ts), built from the `trainer:` section. */
  Trainer: Symbol.for('xp.Trainer'),
  Model: Symbol.for('xp.Model'),
  Objective: Symbol.for('xp.Objective'),
  Dataset: Symbol.for('xp.Dataset'),
  Schedule: Symbol.for('xp.Schedule'),
  Optimizer: Symbol.for('xp.Optimizer'),
  /** The optional `lr_schedule:` section (see interfaces.ts LearningRateSchedule). */
  LrSchedule: Symbol.for('xp.LrSchedule'),
  Sampler: Symbol.for('xp.Sampler'),
  /** Every callback of the experiment (multi-injected). */
  Callback: Symbol.for('xp.Callback'),
  /** Builds a sampler of its own config on the run's schedule (see interfaces.ts SamplerFactory). */
  SamplerFactory: Symbol.for('xp.SamplerFactory'),
  /** The classifier sample metrics use, bound by the app (see interfaces.ts FeatureClassifierSource). */
  FeatureClassifier: Symbol.for('xp.FeatureClassifier'),

  /** Shape of the dataset's images, [height, width, channels]. */
  ImageShape: Symbol.for('xp.ImageShape'),
  /** Builds a model's blocks from their configs (see interfaces.ts BlockFactory). */
  BlockFactory: Symbol.for('xp.BlockFactory'),
  /** For a block: the shapes it receives. */
  BlockInput: Symbol.for('xp.BlockInput'),
  /** For a block or model: where it creates its trainable variables. */
  ParamStore: Symbol.for('xp.ParamStore'),
} as const;
