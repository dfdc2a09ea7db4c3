/**
 * The contracts between the engine and components: components implement these, the engine
 * calls them. Type declarations only (what is imported below is imported as a type).
 */
import type * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './nn/param-store.js';
import type { Rng } from './rng.js';
import type { BatchSource, LabeledImageSet, Normalization } from './data/batches.js';
import type { CheckpointData } from './run/checkpoint.js';

/** The configuration of a nested component: `{type: <registered name>, ...its parameters}`. */
export interface ComponentConfig {
  type: string;
  [param: string]: unknown;
}

/** Per-example shape, NHWC without N: [height, width, channels]. */
export type Shape3 = [number, number, number];

/** What a block is built for: the shapes it receives. */
export interface BlockInput {
  /** Shape of x. */
  shape: Shape3;
  /** Shape of the skip connection, for blocks that consume one (`consumesSkip`). */
  skip?: Shape3;
  /** Width of the time embedding passed to forward(). */
  embeddingDim: number;
}

/** A UNet building block. Registered with `@block(name, ...)`. */
export interface Block {
  readonly outShape: Shape3;
  /** x: [n, h, w, c]; emb: [n, embeddingDim]; skip: the stored activation at this block's output resolution. */
  forward(x: tf.Tensor4D, emb: tf.Tensor2D, skip?: tf.Tensor4D): tf.Tensor4D;
  /** Forward FLOPs per example (1 multiply-add = 2 FLOPs), for `xp summary`. */
  flops(): number;
}

/** Static side of a block class: whether the UNet must hand it a skip connection. */
export interface BlockClass {
  readonly consumesSkip?: boolean;
}

/**
 * Builds a block from its config through the run's container: the block receives its
 * parameters, its path, its input shapes and a ParamStore scoped to its path.
 */
export type BlockFactory = (config: ComponentConfig, path: string, input: BlockInput, store: ParamStore) => Block;

export interface SummaryRow {
  stage: string;
  block: string;
  outShape: Shape3;
  params: number;
  flops: number;
}

/** What the run loop trains: a model with named variables. */
export interface Trainable {
  /** Trainable variables by name (the EMA, optimizer state and checkpoints key on these names). */
  variables(): Map<string, tf.Variable>;
  /** Its stages with their forward FLOPs (the run loop sizes its passes by them). */
  summary(): SummaryRow[];
  dispose(): void;
}

/** A denoising network: ε_θ(x_t, t), or x_0 or v where `prediction` says so. */
export interface Denoiser extends Trainable {
  /** What predict() returns (framework/diffusion/prediction.ts); default 'epsilon', the noise. */
  readonly prediction?: 'epsilon' | 'v' | 'x0';
  /** xt: [n, h, w, c]; t: [n] integer timesteps (float32 or int32). Returns the prediction, same shape as xt. */
  predict(xt: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D;
}

/**
 * A noise schedule of T steps, in float64. The paper indexes the arrays by the timestep
 * itself, t = 1..T-1 (index 0 is never drawn), and xp keeps that convention.
 */
export interface NoiseSchedule {
  readonly steps: number;
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphaBars: Float64Array;
}

export interface SampleOptions {
  /** Called after each denoising step with the number done and the total. */
  onStep?: (done: number, total: number) => void;
}

/** Turns pure noise into images with a Denoiser: the reverse process. */
export interface Sampler {
  /** n samples of the given per-example shape, values clamped to [-1, 1]. */
  sample(model: Denoiser, n: number, shape: Shape3, rng: Rng, options?: SampleOptions): tf.Tensor4D;
  /** Number of model evaluations one sample costs. */
  readonly evaluations: number;
}

/** A training set: images as batches of normalized floats, with their class labels where it has them. */
export interface Dataset {
  readonly imageShape: Shape3;
  readonly size: number;
  /** How batches map pixels to floats. */
  readonly normalize: Normalization;
  /** Present where every image has a class label; its batches then carry `labels`. */
  readonly labels?: DatasetLabels;
  /** A fresh iterator over epochs of batches; `rng` drives the shuffle. */
  batches(rng: Rng): BatchSource;
}

/** What a labelled dataset offers a classifier beyond its batches. */
export interface DatasetLabels {
  /** Labels run from 0 to classes - 1. */
  readonly classes: number;
  /** Labelled images kept out of training (MNIST: the test split), to measure accuracy on; raw pixels. */
  testSet(): LabeledImageSet;
}

/** A batch of the dataset as the run loop hands it to an objective; the loop disposes `x` (prepare may return it as it is). */
export interface DataBatch {
  /** [n, h, w, c] normalized images. */
  x: tf.Tensor4D;
  /** The class of each image, where the dataset has labels. */
  labels?: Int32Array;
}

/**
 * What an objective's loss reads: named tensors whose first axis is the example, so the run
 * loop can cut a batch into slices and worker-thread shares without knowing what they hold.
 */
export type PreparedBatch = Record<string, tf.Tensor>;

/**
 * What training minimizes, and how a batch is made ready for it (noise prediction, say, or
 * cross-entropy): the one place each loss is defined. Registered with `@objective(name, ...)`;
 * `needs` in its declaration names the experiment sections it requires.
 */
export interface Objective {
  /** TensorBoard tag of the training loss. */
  readonly lossTag: string;
  /** The tensors loss() takes for this batch; `rng` is the objective's own stream, checkpointed with the run. */
  prepare(batch: DataBatch, rng: Rng): PreparedBatch;
  /** The mean loss over the batch's examples, differentiable in the model's variables. */
  loss(batch: PreparedBatch): tf.Scalar;
  /** Frees what prepare() kept between batches; the run loop calls it when the run ends. */
  dispose?(): void;
}

/** Builds a sampler from a config on the run's schedule (a callback's own DDIM, say); `path` names it in errors. */
export type SamplerFactory = (config: ComponentConfig, path: string) => Sampler;

/**
 * The classifier on whose features sample metrics are computed, loaded (or trained) when
 * called; `overrides` (path=value) change the experiment it is trained from. The caller owns it.
 */
export type FeatureClassifierSource = (overrides: string[]) => Promise<{ classifier: Classifier; imageShape: Shape3 }>;

/** Makes the tfjs optimizer for a run. */
export interface OptimizerFactory {
  create(): tf.Optimizer;
}

/** Where a run's records go: TensorBoard events, sample images, text. */
export interface Recorder {
  scalar(tag: string, value: number, step: number): void;
  /** A grayscale image (a sample grid), `pixels` row-major. */
  image(tag: string, pixels: Uint8Array, width: number, height: number, step: number): void;
  text(tag: string, markdown: string, step: number): void;
}

/** What callbacks see of the run in progress; what else they need comes by injection. */
export interface TrainingContext {
  readonly model: Trainable;
  /** Optimizer steps done so far. */
  readonly step: number;
  /** The current epoch, from 0. */
  readonly epoch: number;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  /** The run's last step (the step budget or epochs × steps per epoch). */
  readonly totalSteps: number;
  readonly record: Recorder;
  readonly weights: WeightSets;
  /** The run's seed, for callbacks that need their own fixed random streams. */
  readonly seed: number;
  /** Examples the model may take in one pass on this backend (the trainer's micro_batch). */
  readonly examplesPerPass: number;
  /** Writes a checkpoint of the whole training state now; undefined where the run keeps none. */
  saveCheckpoint(retention?: CheckpointRetention): Promise<string | undefined>;
  /** Prints a line above the progress bar (nothing when the run is quiet). */
  log(line: string): void;
}

/** Named alternatives to the model's live weights (the EMA's, say) that can be swapped in. */
export interface WeightSets {
  register(name: string, weights: Map<string, tf.Tensor>): void;
  names(): string[];
  /** Runs `fn` with the named set loaded into the model, then restores the live weights. */
  use<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
}

/** The batch of the step just taken, alive until the hooks return. */
export interface StepBatch {
  /** What the objective prepared and the loss was computed on. */
  inputs: PreparedBatch;
  loss: number;
}

/** What a checkpoint keeps of a callback: plain JSON and named tensors. */
export interface CallbackState {
  json?: unknown;
  tensors?: Map<string, tf.Tensor>;
}

/**
 * Lifecycle hooks, in the order they fire (lower `priority` first; default 50). A callback
 * with state to checkpoint names itself by `path` (its place in the experiment).
 */
export interface Callback {
  readonly priority?: number;
  readonly path?: string;
  onRunBegin?(ctx: TrainingContext): void | Promise<void>;
  onEpochBegin?(ctx: TrainingContext): void | Promise<void>;
  onStepEnd?(ctx: TrainingContext, batch: StepBatch): void | Promise<void>;
  onEpochEnd?(ctx: TrainingContext): void | Promise<void>;
  onRunEnd?(ctx: TrainingContext): void | Promise<void>;
  state?(): CallbackState;
  /** Called before onRunBegin when a run resumes. */
  restore?(state: CallbackState): void;
  dispose?(): void;
}

/** What a trainer gets from the run it works for. */
export interface RunHandle {
  readonly record: Recorder;
  /** True once SIGINT/SIGTERM asked the run to stop: finish the step, then return. */
  stopRequested(): boolean;
  /** No progress bar or epoch lines on the console (tests, workers). */
  quiet?: boolean;
  /** Where checkpoints go; absent: the run keeps none. */
  checkpoints?: CheckpointSink;
  /** A checkpoint to continue from. */
  resumeFrom?: CheckpointData;
}

/** Which older checkpoints survive a save: the newest `keepLast`, and those in `keep`. */
export interface CheckpointRetention {
  keepLast?: number;
  keep?: string[];
}

export interface CheckpointSink {
  /**
   * Writes the checkpoint of `step`, then prunes older ones as asked; returns its folder. Throws
   * (and writes nothing) where a weight is not finite, or where another process took the run
   * folder over; the run loop lets either end the run.
   */
  save(step: number, data: CheckpointData, retention?: CheckpointRetention): Promise<string>;
}

export interface FitResult {
  status: 'completed' | 'interrupted';
  steps: number;
  epochs: number;
  lastLoss?: number;
  /** Set where the run ended at its time budget (`trainer.max_minutes`) rather than its step budget. */
  stoppedBy?: 'max_minutes';
}

/**
 * A learning-rate schedule: the factor on the optimizer's configured rate before the optimizer
 * step that follows `step` steps, of a run of `totalSteps`. Registered with `@lrSchedule`.
 */
export interface LearningRateSchedule {
  factor(step: number, totalSteps: number): number;
}

export interface Trainer {
  fit(run: RunHandle): Promise<FitResult>;
}

/** What a classifier returns for a batch: class scores and the layer before them. */
export interface ClassifierOutput {
  /** [n, classes], before the softmax. */
  logits: tf.Tensor2D;
  /** [n, featureDim]: the penultimate layer, on which xp eval computes FID. */
  features: tf.Tensor2D;
}

/** An image classifier (trained with the cross-entropy objective). Images are NHWC in [-1, 1]. */
export interface Classifier extends Trainable {
  readonly classes: number;
  readonly featureDim: number;
  forward(x: tf.Tensor4D): ClassifierOutput;
}
