/**
 * THE run loop: every training in xp, a denoiser's or a classifier's, is this loop around an
 * objective. It owns epochs and step budgets, the callbacks' hooks in priority order, the
 * progress display, the stop on a non-finite loss, interrupts, checkpoint capture and
 * restore, micro-batches, worker threads and gradient clipping. What differs between trainings
 * is the objective's (how a batch is prepared, what its loss is) and the model's.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { inject, injectable, multiInject, optional } from 'inversify';
import { TOKENS } from '../container/tokens.js';
import type {
  Callback,
  CheckpointRetention,
  Dataset,
  FitResult,
  LearningRateSchedule,
  Objective,
  OptimizerFactory,
  RunHandle,
  StepBatch,
  Trainable,
  Trainer,
  TrainingContext,
} from '../interfaces.js';
import type { ConfigMap } from '../config/load.js';
import type { Registry } from '../registry/registry.js';
import type { BatchSource } from '../data/batches.js';
import type { CheckpointData } from '../run/checkpoint.js';
import { Rng, type RngState } from '../rng.js';
import { XpError } from '../errors.js';
import { nativeKernelStatus, setNativeThreads } from '../kernels/native/onednn-kernels.js';
import { Hooks } from './hooks.js';
import { Progress } from './progress.js';
import { ModelWeightSets } from './weight-sets.js';
import { examplesPerPass, forwardFlopsPerExample, onOneCoreBackend } from './slices.js';
import { startGradients } from './parallel-gradients.js';
import type { GradientComputer } from './gradients.js';
import { captureTrainState, restoreTrainState } from './train-state.js';
import type { TrainerParams } from './trainer-params.js';

/** What decides the next steps besides the model: the loop's own state. */
interface LoopParts {
  batches: BatchSource;
  optimizer: tf.Optimizer;
  hooks: Hooks;
  /** The objective's random stream (noise and timesteps, say). */
  rng: Rng;
  /** Seconds trained before this session (a resumed run's), and when this session's training began. */
  clock: { before: number; start: number };
  /** The optimizer's configured learning rate, which a schedule scales. */
  baseRate: number;
}

/** The context callbacks see, with the counters the loop moves. */
type LoopContext = TrainingContext & { step: number; epoch: number };

@injectable()
export class Runner implements Trainer {
  constructor(
    @inject(TOKENS.Params) private readonly params: TrainerParams,
    @inject(TOKENS.Model) private readonly model: Trainable,
    @inject(TOKENS.Objective) private readonly objective: Objective,
    @inject(TOKENS.Dataset) private readonly dataset: Dataset,
    @inject(TOKENS.Optimizer) private readonly optimizerFactory: OptimizerFactory,
    @multiInject(TOKENS.Callback) @optional() private readonly callbacks: Callback[] = [],
    @inject(TOKENS.Seed) private readonly seed: number,
    @inject(TOKENS.Experiment) private readonly experiment: ConfigMap,
    @inject(TOKENS.Registry) private readonly registry: Registry,
    @inject(TOKENS.LrSchedule) @optional() private readonly lrSchedule?: LearningRateSchedule,
  ) {}

  async fit(run: RunHandle): Promise<FitResult> {
    const root = new Rng(this.seed);
    const batches = this.dataset.batches(root.fork('data'));
    const optimizer = this.optimizerFactory.create();
    const parts: LoopParts = {
      batches,
      optimizer,
      hooks: new Hooks(this.callbacks ?? []),
      // 'noise': the stream's name from when the diffusion loss was the only one; kept so seeds give the same runs.
      rng: root.fork('noise'),
      clock: { before: 0, start: performance.now() },
      baseRate: rateOf(optimizer),
    };
    const stepsPerEpoch = batches.batchesPerEpoch;
    const totalSteps = Math.min(this.params.max_steps ?? Infinity, this.params.epochs * stepsPerEpoch);
    let progress: Progress | undefined;
    const ctx: LoopContext = {
      model: this.model,
      step: 0,
      epoch: 0,
      epochs: Math.ceil(totalSteps / stepsPerEpoch),
      stepsPerEpoch,
      totalSteps,
      record: run.record,
      weights: new ModelWeightSets(this.model.variables()),
      seed: this.seed,
      examplesPerPass: examplesPerPass(this.model, this.params.micro_batch),
      saveCheckpoint: async (retention?: CheckpointRetention) =>
        run.checkpoints?.save(ctx.step, await this.capture(ctx, parts), retention),
      log: (line: string) => progress?.log(line),
    };
    if (run.resumeFrom) await this.restore(ctx, parts, run.resumeFrom);
    progress = run.quiet ? undefined : new Progress(totalSteps, ctx.step);
    if (run.resumeFrom) ctx.log(`resumed at step ${ctx.step}`);
    const gradients = await this.gradientComputer(ctx.examplesPerPass, batches.batchSize);
    try {
      await parts.hooks.fire('onRunBegin', ctx);
      // The budget is for training: a first-use classifier or the floor metrics of onRunBegin don't count.
      parts.clock.start = performance.now();
      const lastLoss = await this.loop(ctx, parts, gradients, run, progress);
      const outOfTime = ctx.step < totalSteps && this.outOfTime(parts);
      if (outOfTime) ctx.log(`time budget of ${this.params.max_minutes} minutes reached at step ${ctx.step}`);
      const interrupted = ctx.step < totalSteps && !outOfTime;
      if (interrupted) await ctx.saveCheckpoint();
      else await parts.hooks.fire('onRunEnd', ctx);
      const result: FitResult = { status: interrupted ? 'interrupted' : 'completed', steps: ctx.step, epochs: ctx.epoch + 1, lastLoss };
      return outOfTime ? { ...result, stoppedBy: 'max_minutes' } : result;
    } finally {
      progress?.stop();
      gradients.dispose();
      parts.optimizer.dispose();
      parts.hooks.dispose();
      this.objective.dispose?.();
    }
  }

  /** Steps until the budget is spent or a stop is asked for; returns the last loss. */
  private async loop(
    ctx: LoopContext,
    parts: LoopParts,
    gradients: GradientComputer,
    run: RunHandle,
    progress?: Progress,
  ): Promise<number | undefined> {
    const { batches, hooks } = parts;
    let lastLoss = NaN;
    let epoch = { lossSum: 0, images: 0, start: performance.now() };
    while (ctx.step < ctx.totalSteps && !run.stopRequested() && !this.outOfTime(parts)) {
      // On one thread a step awaits nothing but settled promises, so without this the event loop
      // would never run: Ctrl-C and SIGTERM unseen, no timer firing (the folder lock's lease), until the end.
      await new Promise((resolve) => setImmediate(resolve));
      const batch = batches.nextBatch();
      ctx.epoch = batch.epoch;
      if (batch.index === 0) {
        await hooks.fire('onEpochBegin', ctx);
        epoch = { lossSum: 0, images: 0, start: performance.now() };
      }
      const x = batches.toTensor(batch);
      const inputs = this.objective.prepare({ x, labels: batch.labels }, parts.rng);
      this.scheduleRate(ctx, parts);
      try {
        const loss = await this.optimize(parts.optimizer, gradients, inputs);
        ctx.step += 1;
        lastLoss = loss;
        if (!Number.isFinite(loss)) {
          throw new XpError(`the loss became ${loss} at step ${ctx.step}; stopped (the last good checkpoint is kept)`);
        }
        run.record.scalar(this.objective.lossTag, loss, ctx.step);
        const stepBatch: StepBatch = { inputs, loss };
        await hooks.stepEnd(ctx, stepBatch);
        epoch.lossSum += loss * batch.size;
        epoch.images += batch.size;
      } finally {
        tf.dispose([...new Set([x, ...Object.values(inputs)])]);
      }
      const seconds = (performance.now() - epoch.start) / 1000;
      progress?.update({ ...ctx, loss: lastLoss, imagesPerSecond: epoch.images / seconds });
      if (batch.index === ctx.stepsPerEpoch - 1 || ctx.step === ctx.totalSteps) {
        await hooks.fire('onEpochEnd', ctx);
        ctx.log(
          `epoch ${ctx.epoch + 1}/${ctx.epochs}  step ${ctx.step}/${ctx.totalSteps}  ` +
            `loss ${(epoch.lossSum / epoch.images).toFixed(4)}  ${(epoch.images / seconds).toFixed(1)} img/s  ${seconds.toFixed(1)} s`,
        );
      }
    }
    return Number.isNaN(lastLoss) ? undefined : lastLoss;
  }

  /** Whether the time budget is spent (never, without one). */
  private outOfTime({ clock }: LoopParts): boolean {
    const minutes = this.params.max_minutes;
    return minutes !== undefined && trainedSeconds(clock) >= minutes * 60;
  }

  /** Sets the scheduled learning rate for the coming step, and records it. */
  private scheduleRate(ctx: LoopContext, { optimizer, baseRate }: LoopParts): void {
    if (!this.lrSchedule) return;
    const rate = baseRate * this.lrSchedule.factor(ctx.step, ctx.totalSteps);
    (optimizer as unknown as { learningRate: number }).learningRate = rate;
    ctx.record.scalar('Training/LearningRate', rate, ctx.step + 1);
  }

  /** One optimizer step on the batch; returns its loss. Gradients are optionally clipped to a global norm. */
  private async optimize(optimizer: tf.Optimizer, gradients: GradientComputer, inputs: Record<string, tf.Tensor>): Promise<number> {
    const { loss, grads } = await gradients.compute(inputs);
    const clipped = this.params.grad_clip ? clipByGlobalNorm(grads, this.params.grad_clip) : grads;
    optimizer.applyGradients(clipped);
    tf.dispose([...Object.values(grads), ...Object.values(clipped)]);
    return loss;
  }

  /** Gradients on the worker threads `trainer.threads` asks for (useTrainingThreads), one slice of each batch apiece. */
  private async gradientComputer(examples: number, batchSize: number): Promise<GradientComputer> {
    const threads = useTrainingThreads(this.model, this.params.threads, { cores: os.availableParallelism(), batchSize }, this.dataset.size);
    const setup = { modules: this.registry.modules, experiment: this.experiment, examplesPerPass: examples };
    return startGradients(this.model, this.objective, setup, threads);
  }

  /** Everything that decides the next steps: weights, optimizer moments, data order, the objective's stream, callbacks. */
  private async capture(ctx: LoopContext, { batches, optimizer, hooks, rng, clock }: LoopParts): Promise<CheckpointData> {
    const { state, tensors } = await captureTrainState({ variables: this.model.variables(), optimizer, batches });
    const callbacks = hooks.state();
    for (const [key, part] of Object.entries(callbacks)) {
      for (const [name, tensor] of part.tensors ?? []) tensors.set(`${key}/${name}`, tensor);
    }
    const json = Object.fromEntries(Object.entries(callbacks).map(([key, part]) => [key, part.json ?? null]));
    return { state: { ...state, epoch: ctx.epoch, noise: rng.state(), callbacks: json, trainSeconds: trainedSeconds(clock) }, tensors };
  }

  /** Puts a checkpoint back into the model, the loop's parts and the context. */
  private async restore(ctx: LoopContext, parts: LoopParts, data: CheckpointData): Promise<void> {
    const { state, tensors } = data;
    ctx.step = await restoreTrainState(data, { variables: this.model.variables(), ...parts });
    parts.hooks.restore(state.callbacks as Record<string, unknown>, tensors);
    ctx.epoch = Number(state.epoch);
    parts.rng = Rng.fromState(state.noise as RngState);
    parts.clock.before = Number(state.trainSeconds ?? 0);
  }
}

function trainedSeconds({ before, start }: LoopParts['clock']): number {
  return before + (performance.now() - start) / 1000;
}

/** tfjs optimizers keep their rate in a field the type marks protected. */
function rateOf(optimizer: tf.Optimizer): number {
  return (optimizer as unknown as { learningRate: number }).learningRate;
}

function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): tf.NamedTensorMap {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.mul(g, scale)]));
  });
}

/**
 * Below this many forward FLOPs per example, worker threads beat oneDNN's threads on the native
 * kernels: a small model's convolutions are too small for oneDNN to split (one thread per 20
 * MFLOP of a call), so two engines each running half the batch use the cores better. Measured
 * on 2 cores, idle (docs/performance.md, "Which threads"): the quick start's 0.05 GFLOP model
 * trains 1.1x (batch 16), 1.6x (64) and 1.5x (32, whole runs) faster on worker threads; the
 * paper's 10 GFLOP model 1.7x faster on one xp thread with oneDNN on both cores.
 */
const NATIVE_WORKERS_BELOW_FLOPS = 1e9;

/**
 * On the native kernels, a worker thread pays for itself only with this many examples of each
 * batch to compute: measured on 2 cores, idle (docs/performance.md), the quick start trains at
 * batch 8 (4 an engine) 9-38% slower on two worker threads than on one thread, at 16 (8 an
 * engine) 3-10% faster, at 32 and 64 1.3-1.7x faster.
 */
const NATIVE_EXAMPLES_PER_WORKER = 8;

/** What `trainer.threads: auto` decides by besides the model. */
export interface ThreadBudget {
  cores: number;
  /** Images in a full batch, which the threads share. */
  batchSize: number;
}

/**
 * The worker threads for a `trainer.threads` setting, at most `limit`; where the native kernels
 * run, gives each thread its share of the cores for oneDNN's own threads.
 */
export function useTrainingThreads(model: Pick<Trainable, 'summary'>, setting: number | 'auto', budget: ThreadBudget, limit = Infinity): number {
  const native = nativeKernelStatus().active;
  const threads = Math.min(setting === 'auto' ? autoThreads(model, budget, native) : setting, limit);
  if (native) setNativeThreads(Math.max(1, Math.floor(budget.cores / threads)));
  return threads;
}

/**
 * 'auto': one worker thread per core on the single-threaded wasm and cpu backends, and on native
 * kernels for a small model while each thread gets NATIVE_EXAMPLES_PER_WORKER examples of a
 * batch; one thread where the backend or oneDNN spreads each call over the cores itself.
 */
export function autoThreads(model: Pick<Trainable, 'summary'>, { cores, batchSize }: ThreadBudget, native: boolean): number {
  if (!onOneCoreBackend()) return 1;
  if (!native) return cores;
  if (forwardFlopsPerExample(model) >= NATIVE_WORKERS_BELOW_FLOPS) return 1;
  return Math.max(1, Math.min(cores, Math.floor(batchSize / NATIVE_EXAMPLES_PER_WORKER)));
}
