import * as tf from '@tensorflow/tfjs';
import { inject, multiInject, optional } from 'inversify';
import { trainer, Type, stringEnum, type Static } from '../../framework/registry/index.js';
import { TOKENS } from '../../framework/container/tokens.js';
import type {
  Callback,
  CheckpointRetention,
  Dataset,
  Denoiser,
  FitResult,
  NoiseSchedule,
  OptimizerFactory,
  RunHandle,
  Sampler,
  StepBatch,
  Trainer,
  TrainingContext,
} from '../../framework/interfaces.js';
import { ForwardProcess, drawNoise } from '../../framework/diffusion/forward-process.js';
import { Hooks } from '../../framework/training/hooks.js';
import { examplesPerPass, type NoisedBatch } from '../../framework/training/slices.js';
import type { GradientComputer } from '../../framework/training/gradients.js';
import { startGradients } from '../../framework/training/parallel-gradients.js';
import type { ConfigMap } from '../../framework/config/load.js';
import os from 'node:os';
import { ModelWeightSets } from '../../framework/training/weight-sets.js';
import { Progress } from '../../framework/training/progress.js';
import { Rng, type RngState } from '../../framework/rng.js';
import type { CheckpointData } from '../../framework/run/checkpoint.js';
import { captureTrainState, restoreTrainState, type TrainParts } from '../../framework/training/train-state.js';
import { XpError } from '../../framework/errors.js';

const Params = Type.Object(
  {
    epochs: Type.Integer({ minimum: 1, default: 1, description: 'Passes over the dataset' }),
    max_steps: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Step budget: stop after this many optimizer steps, even mid-epoch' }),
    ),
    timesteps: stringEnum(['per-batch', 'per-example'] as const, {
      description: "'per-batch': one t shared by a batch (the paper); 'per-example': one t per image (Ho et al.)",
      default: 'per-batch',
    }),
    grad_clip: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Clip gradients to this global norm' })),
    threads: Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')], {
      default: 'auto',
      description:
        'Threads that share each batch (data parallel, gradients summed in a fixed order). ' +
        "'auto': one per core on the wasm and cpu backends, which use one core per thread; 1 elsewhere",
    }),
    micro_batch: Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('auto')], {
      default: 'auto',
      description:
        "Examples per forward/backward pass; gradients of a batch's slices are summed, so the step is the same. " +
        "'auto': the whole batch, except on the wasm and cpu backends, where it is what fits about 2 GB of activations",
    }),
    loss_tag: Type.String({ default: 'Training/MSE', description: 'TensorBoard tag of the training loss' }),
  },
  { additionalProperties: false },
);

type Params = Static<typeof Params>;


/** DDPM training: noise a batch at random timesteps, regress the noise with MSE (the paper's loop). */
@trainer('diffusion', { description: 'Trains a denoiser with the DDPM noise-prediction loss', params: Params })
export class DiffusionTrainer implements Trainer {
  constructor(
    @inject(TOKENS.Params) private readonly params: Params,
    @inject(TOKENS.Model) private readonly model: Denoiser,
    @inject(TOKENS.Dataset) private readonly dataset: Dataset,
    @inject(TOKENS.Schedule) private readonly schedule: NoiseSchedule,
    @inject(TOKENS.Optimizer) private readonly optimizerFactory: OptimizerFactory,
    @inject(TOKENS.Sampler) private readonly sampler: Sampler,
    @multiInject(TOKENS.Callback) @optional() private readonly callbacks: Callback[] = [],
    @inject(TOKENS.Seed) private readonly seed: number,
    @inject(TOKENS.Experiment) private readonly experiment: ConfigMap,
  ) {}

  async fit(run: RunHandle): Promise<FitResult> {
    const rng = new Rng(this.seed);
    const batches = this.dataset.batches(rng.fork('data'));
    let noiseRng = rng.fork('noise');
    const forward = new ForwardProcess(this.schedule);
    const optimizer = this.optimizerFactory.create();
    const hooks = new Hooks(this.callbacks ?? []);
    const variables = this.model.variables();
    const stepsPerEpoch = batches.batchesPerEpoch;
    const totalSteps = Math.min(this.params.max_steps ?? Infinity, this.params.epochs * stepsPerEpoch);
    const ctx = {
      model: this.model,
      schedule: this.schedule,
      sampler: this.sampler,
      imageShape: this.dataset.imageShape,
      step: 0,
      epoch: 0,
      epochs: Math.ceil(totalSteps / stepsPerEpoch),
      stepsPerEpoch,
      totalSteps,
      record: run.record,
      weights: new ModelWeightSets(variables),
      seed: this.seed,
      examplesPerPass: examplesPerPass(this.model, this.params.micro_batch),
      saveCheckpoint: async (retention?: CheckpointRetention): Promise<string | undefined> => {
        if (!run.checkpoints) return undefined;
        const data = await captureState(ctx, { batches, noiseRng, optimizer, hooks });
        return run.checkpoints.save(ctx.step, data, retention);
      },
    } satisfies TrainingContext;
    if (run.resumeFrom) noiseRng = await restoreState(ctx, run.resumeFrom, { batches, optimizer, hooks });
    const gradients = await this.gradientComputer(ctx.examplesPerPass);
    const progress = run.quiet ? undefined : new Progress(totalSteps, ctx.step);
    const log = (line: string) => progress?.log(line);
    if (run.resumeFrom) log(`resumed at step ${ctx.step}`);
    let lastLoss: number | undefined;
    let epochLossSum = 0;
    let epochImages = 0;
    let epochStart = performance.now();
    try {
      await hooks.fire('onRunBegin', ctx);
      while (ctx.step < totalSteps && !run.stopRequested()) {
        const batch = batches.nextBatch();
        ctx.epoch = batch.epoch;
        if (batch.index === 0) {
          await hooks.fire('onEpochBegin', ctx);
          [epochLossSum, epochImages, epochStart] = [0, 0, performance.now()];
        }
        const x0 = batches.toTensor(batch);
        const t = tf.tensor1d(forward.drawTimesteps(noiseRng, batch.size, this.params.timesteps), 'int32');
        const noise = drawNoise(noiseRng, x0.shape);
        const xt = forward.qSample(x0, t, noise);
        const loss = await this.optimize(optimizer, gradients, { xt, t, noise });
        ctx.step += 1;
        lastLoss = loss;
        if (!Number.isFinite(loss)) {
          tf.dispose([x0, t, noise, xt]);
          throw new XpError(`the loss became ${loss} at step ${ctx.step}; stopped (the last good checkpoint is kept)`);
        }
        run.record.scalar(this.params.loss_tag, loss, ctx.step);
        const stepBatch: StepBatch = { x0, xt, t, noise, loss };
        await hooks.stepEnd(ctx, stepBatch);
        tf.dispose([x0, t, noise, xt]);
        epochLossSum += loss * batch.size;
        epochImages += batch.size;
        const seconds = (performance.now() - epochStart) / 1000;
        progress?.update({ ...ctx, loss, imagesPerSecond: epochImages / seconds });
        if (batch.index === stepsPerEpoch - 1 || ctx.step === totalSteps) {
          await hooks.fire('onEpochEnd', ctx);
          log(
            `epoch ${ctx.epoch + 1}/${ctx.epochs}  step ${ctx.step}/${totalSteps}  ` +
              `loss ${(epochLossSum / epochImages).toFixed(4)}  ${(epochImages / seconds).toFixed(1)} img/s  ${seconds.toFixed(1)} s`,
          );
        }
      }
      const interrupted = ctx.step < totalSteps;
      if (interrupted) await ctx.saveCheckpoint();
      else await hooks.fire('onRunEnd', ctx);
      return { status: interrupted ? 'interrupted' : 'completed', steps: ctx.step, epochs: ctx.epoch + 1, lastLoss };
    } finally {
      progress?.stop();
      gradients.dispose();
      forward.dispose();
      optimizer.dispose();
      hooks.dispose();
    }
  }

  /** One optimizer step on the batch; returns its loss. Gradients are optionally clipped to a global norm. */
  private async optimize(optimizer: tf.Optimizer, gradients: GradientComputer, batch: NoisedBatch): Promise<number> {
    const { loss, grads } = await gradients.compute(batch);
    const clipped = this.params.grad_clip ? clipByGlobalNorm(grads, this.params.grad_clip) : grads;
    optimizer.applyGradients(clipped);
    tf.dispose([...Object.values(grads), ...Object.values(clipped)]);
    return loss;
  }

  /** Worker threads as asked; 'auto': one per core on the single-threaded wasm and cpu backends. */
  private async gradientComputer(examples: number): Promise<GradientComputer> {
    const setting = this.params.threads;
    const singleThreaded = ['wasm', 'cpu'].includes(tf.getBackend());
    const threads = Math.min(setting === 'auto' ? (singleThreaded ? os.cpus().length : 1) : setting, this.dataset.size);
    return startGradients(this.model, this.experiment, examples, threads);
  }
}

interface TrainingParts extends Omit<TrainParts, 'variables'> {
  hooks: Hooks;
}

/** Everything that decides the next steps: weights, optimizer moments, data order, noise stream, callbacks. */
async function captureState(
  ctx: TrainingContext,
  { batches, noiseRng, optimizer, hooks }: TrainingParts & { noiseRng: Rng },
): Promise<CheckpointData> {
  const { state, tensors } = await captureTrainState({ variables: ctx.model.variables(), optimizer, batches });
  const callbacks = hooks.state();
  for (const [key, part] of Object.entries(callbacks)) {
    for (const [name, tensor] of part.tensors ?? []) tensors.set(`${key}/${name}`, tensor);
  }
  const json = Object.fromEntries(Object.entries(callbacks).map(([key, part]) => [key, part.json ?? null]));
  return { state: { ...state, epoch: ctx.epoch, noise: noiseRng.state(), callbacks: json }, tensors };
}

/** Puts a checkpoint back; returns the noise generator to continue with. */
async function restoreState(ctx: TrainingContext & { step: number; epoch: number }, data: CheckpointData, parts: TrainingParts): Promise<Rng> {
  const { state, tensors } = data;
  ctx.step = await restoreTrainState(data, { variables: ctx.model.variables(), ...parts });
  parts.hooks.restore(state.callbacks as Record<string, unknown>, tensors);
  ctx.epoch = Number(state.epoch);
  return Rng.fromState(state.noise as RngState);
}

function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): tf.NamedTensorMap {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.mul(g, scale)]));
  });
}
