/**
 * The built-in components: every class a YAML file can name out of the box, exported so a
 * registry can register them (`registerBuiltins`). Importing this module registers nothing
 * by itself; the app (and each worker thread, from the registry's module list) asks for it.
 */
import { Registry } from '../framework/registry/registry.js';
import * as builtins from './index.js';

export * from './blocks/BottomConv.js';
export * from './blocks/DoubleConv.js';
export * from './blocks/Down.js';
export * from './blocks/SelfAttention.js';
export * from './blocks/Up.js';
export * from './callbacks/accuracy.js';
export * from './callbacks/checkpoint.js';
export * from './callbacks/ema.js';
export * from './callbacks/eval.js';
export * from './callbacks/sample-images.js';
export * from './datasets/mnist.js';
export * from './models/MnistClassifier.js';
export * from './models/UNet.js';
export * from './objectives/cross-entropy.js';
export * from './objectives/noise-prediction.js';
export * from './optimizers/adam.js';
export * from './samplers/ddim.js';
export * from './samplers/ddpm.js';
export * from './schedules/cosine.js';
export * from './schedules/linear.js';

/** Registers the built-in components into `registry` (a new one by default) and returns it. */
export function registerBuiltins(registry = new Registry()): Registry {
  registry.addModule(import.meta.url, builtins);
  return registry;
}
