/**
 * The public face of the engine: what a component module imports, a user's (`import { block,
 * Type, ... } from 'xp'`) and xp's own built-ins (components/ import this file and nothing else
 * of framework/). The decorators and parameter helpers, the injection tokens, the contracts,
 * the layer library, the diffusion math, the pieces callbacks build on, and tfjs itself so a
 * user module shares xp's engine.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export { inject, multiInject, optional } from 'inversify';
export * from './framework/registry/index.js';
export { TOKENS } from './framework/container/tokens.js';
export type * from './framework/interfaces.js';
export * from './framework/nn/index.js';
export { Rng } from './framework/rng.js';
export { BuildError, XpError } from './framework/errors.js';

// Data: batches of images, MNIST's files.
export { BatchSource, type LabeledImageSet, type Normalization } from './framework/data/batches.js';
export { loadMnist, mnistFiles, MNIST_CLASSES, MNIST_SIZE, type MnistSet } from './framework/data/mnist.js';

// Diffusion math: schedules, the forward and reverse processes.
export { BetaSchedule, visitableSteps } from './framework/diffusion/schedule-math.js';
export { drawNoise, ForwardProcess } from './framework/diffusion/forward-process.js';
export { runReverseProcess } from './framework/diffusion/reverse-process.js';
export { minSnrWeight, noiseFrom, PREDICTIONS, targetOf, type Prediction, type Scales } from './framework/diffusion/prediction.js';

// What callbacks and optimizers build on.
export { EmaWeights } from './framework/training/ema-weights.js';
export { FusedAdamOptimizer } from './framework/training/adam-optimizer.js';
export { epochIsDue, stepIsDue } from './framework/training/periodic.js';
export { lossInSlices } from './framework/training/slices.js';
export { LIVE_WEIGHTS } from './framework/training/weight-sets.js';

// Sample metrics and images.
export { accuracy, classify } from './framework/eval/classify.js';
export { Evaluation, type SetMetrics } from './framework/eval/evaluation.js';
export { sampleInBatches } from './framework/eval/sampling.js';
export { imageGrid } from './framework/records/png.js';
export { samplesToBytes } from './framework/records/samples.js';
