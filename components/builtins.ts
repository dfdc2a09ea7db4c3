/**
 * Every built-in component, re-exported: the module a registry registers the built-ins from
 * (see index.ts). Its URL goes with it, so worker threads load the very same file.
 */
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
export * from './lr-schedules/warmup-cosine.js';
export * from './models/MnistClassifier.js';
export * from './models/UNet.js';
export * from './objectives/cross-entropy.js';
export * from './objectives/noise-prediction.js';
export * from './optimizers/adam.js';
export * from './samplers/ddim.js';
export * from './samplers/dpm-solver-pp.js';
export * from './samplers/ddpm.js';
export * from './schedules/cosine.js';
export * from './schedules/linear.js';

/** This module's URL: the `.ts` file when running from source, the `.js` one when built. */
export const BUILTINS_MODULE = import.meta.url;
