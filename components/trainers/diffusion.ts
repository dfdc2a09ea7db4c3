import * as tf from '@tensorflow/tfjs';
import { inject, multiInject, optional } from 'inversify';
import { trainer, Type, stringEnum, type Static } from '../../framework/registry/index.js';
import { TOKENS } from '../../framework/container/tokens.js';
import type {
  Callback,
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
import { ModelWeightSets } from '../../framework/training/weight-sets.js';
import { Progress } from '../../framework/training/progress.js';
import { Rng } from '../../framework/rng.js';
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
  ) {}

  async fit(run: RunHandle): Promise<FitResult> {
    const rng = new Rng(this.seed);
    const batches = this.dataset.batches(rng.fork('data'));
    const noiseRng = rng.fork('noise');
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
    } satisfies TrainingContext;
    const progress = run.quiet ? undefined : new Progress(totalSteps, ctx.step);
    const log = (line: string) => {
      progress?.log(line);
      run.log(line);
    };
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
        const loss = this.optimize(optimizer, variables, () => forward.loss(this.model.predict(xt, t), noise));
        ctx.step += 1;
        lastLoss = loss;
        if (!Number.isFinite(loss)) throw new XpError(`the loss became ${loss} at step ${ctx.step}; stopping`);
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
      await hooks.fire('onRunEnd', ctx);
    } finally {
      progress?.stop();
      forward.dispose();
      optimizer.dispose();
      hooks.dispose();
    }
    const status = ctx.step >= totalSteps ? 'completed' : 'interrupted';
    return { status, steps: ctx.step, epochs: ctx.epoch + 1, lastLoss };
  }

  /** One optimizer step; returns the loss. Gradients are optionally clipped to a global norm. */
  private optimize(optimizer: tf.Optimizer, variables: Map<string, tf.Variable>, lossFn: () => tf.Scalar): number {
    const { value, grads } = tf.variableGrads(lossFn, [...variables.values()]);
    const clipped = this.params.grad_clip ? clipByGlobalNorm(grads, this.params.grad_clip) : grads;
    optimizer.applyGradients(clipped);
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads), ...Object.values(clipped)]);
    return loss;
  }
}

function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): tf.NamedTensorMap {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.mul(g, scale)]));
  });
}
