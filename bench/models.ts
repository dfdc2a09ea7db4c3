/**
 * The models xp trains, end to end on one thread: a training step (gradients + Adam) at two
 * batch sizes, forward passes, sampling with DDIM and DDPM, what a step spends outside the
 * model (data, noise, EMA), peak memory and the tensor count. The paper's UNet runs only the
 * shapes a 2-core machine finishes in a few minutes; its DDPM sampling is extrapolated from
 * its forward pass (511 of them per image), and the report says so.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveExperiment } from '../framework/config/resolve.js';
import { assemble } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { Dataset, Denoiser, NoiseSchedule, OptimizerFactory, Sampler } from '../framework/interfaces.js';
import { ForwardProcess, drawNoise } from '../framework/diffusion/forward-process.js';
import { startGradients } from '../framework/training/parallel-gradients.js';
import { EmaWeights } from '../framework/training/ema-weights.js';
import { examplesPerPass } from '../framework/training/slices.js';
import { Rng } from '../framework/rng.js';
import { valuesOf } from '../framework/tensors.js';
import { medianOfRounds, table, type Benchmark } from './harness.js';

export interface ModelCase {
  experiment: string;
  trainBatches: number[];
  forwardBatch: number;
  /** Images sampled with each sampler; 0 skips (extrapolated from the forward pass instead). */
  ddimImages: number;
  ddpmImages: number;
  /** Timed rounds after one warm-up, of each training batch and of the forward pass. */
  reps: number;
}

// The paper's UNet takes most of a minute a training step here, so two timed steps.
export const CASES: ModelCase[] = [
  { experiment: 'experiments/quickstart.yaml', trainBatches: [64, 8], forwardBatch: 64, ddimImages: 16, ddpmImages: 4, reps: 3 },
  { experiment: 'experiments/mnist-standard.yaml', trainBatches: [8], forwardBatch: 4, ddimImages: 0, ddpmImages: 0, reps: 2 },
];

/** Training throughput of one model, keyed `batch <size>`. */
export interface Training {
  parameters: number;
  imagesPerSecond: Record<string, number>;
  /** The largest share of a step spent outside the model, over the batch sizes. */
  outsideModelShare: number;
}

interface Row {
  experiment: string;
  parameters: number;
  trainImagesPerSecond: Record<string, number>;
  forwardImagesPerSecond: number;
  ddim50ImagesPerSecond: number;
  ddpm511ImagesPerSecond: number;
  sampledNotExtrapolated: boolean;
  outsideModelShare: number;
  tensorsBefore: number;
  tensorsAfter: number;
}

/** The experiment's components, with the DDIM-50 sampler in place of its own. */
export async function build(experiment: string) {
  const config = await resolveExperiment(experiment, { overrides: ['sampler={type: ddim, steps: 50}'] });
  const container = assemble(config.value);
  return {
    experiment: config.value,
    model: container.get(TOKENS.Model) as Denoiser,
    dataset: container.get(TOKENS.Dataset) as Dataset,
    schedule: container.get(TOKENS.Schedule) as NoiseSchedule,
    optimizer: container.get(TOKENS.Optimizer) as OptimizerFactory,
    ddim: container.get(TOKENS.Sampler) as Sampler,
  };
}

type Built = Awaited<ReturnType<typeof build>>;

/** Training throughput of the case's model on `threads` threads, built afresh and freed after (what bench/vs-pytorch.ts compares). */
export async function measureTrainingOf(c: ModelCase, threads: number): Promise<Training> {
  const built = await build(c.experiment);
  try {
    return await measureTraining(c, built, threads);
  } finally {
    built.model.dispose();
  }
}

/**
 * Median time of a training step at each of the case's batch sizes: what the trainer does
 * (MNIST batch, per-example timesteps, noise, x_t, gradients in the slices the wasm heap
 * holds, on `threads` threads as `trainer.threads` would, the experiment's optimizer, EMA),
 * one warm-up step first. Frees everything it made but the model.
 */
async function measureTraining(c: ModelCase, built: Built, threads: number): Promise<Training> {
  const { model, schedule, optimizer: optimizerFactory } = built;
  const forward = new ForwardProcess(schedule);
  const optimizer = optimizerFactory.create();
  const rng = new Rng(0);
  const imagesPerSecond: Record<string, number> = {};
  let outsideModelShare = 0;
  for (const batchSize of c.trainBatches) {
    const batches = (await datasetWithBatch(c.experiment, batchSize)).batches(rng.fork(batchSize));
    const gradients = await startGradients(model, built.experiment, examplesPerPass(model, 'auto'), threads);
    const ema = new EmaWeights(model.variables());
    let prepared: { x0: tf.Tensor4D; xt: tf.Tensor4D; t: tf.Tensor1D; noise: tf.Tensor4D } | undefined;
    process.stderr.write(`xp: ${c.experiment}, training at batch ${batchSize}\n`);
    const times = await medianOfRounds(
      {
        // Everything a step does outside the model: the batch, timesteps, noise, x_t, the EMA.
        outside: () => {
          if (prepared) tf.dispose(Object.values(prepared));
          const batch = batches.nextBatch();
          const x0 = batches.toTensor(batch);
          const t = tf.tensor1d(forward.drawTimesteps(rng, batch.size, 'per-example'), 'int32');
          const noise = drawNoise(rng, x0.shape);
          prepared = { x0, t, noise, xt: forward.qSample(x0, t, noise) };
          ema.update(model.variables(), 0.995);
        },
        model: async () => {
          const { grads } = await gradients.compute(prepared!);
          optimizer.applyGradients(grads as Record<string, tf.Variable>);
          tf.dispose(Object.values(grads));
        },
      },
      { warmup: 1, reps: c.reps },
    );
    tf.dispose(Object.values(prepared!));
    ema.dispose();
    gradients.dispose();
    imagesPerSecond[`batch ${batchSize}`] = (batchSize * 1000) / (times.outside + times.model);
    outsideModelShare = Math.max(outsideModelShare, times.outside / (times.outside + times.model));
  }
  forward.dispose();
  optimizer.dispose();
  return { parameters: countParameters(model), imagesPerSecond, outsideModelShare };
}

function countParameters(model: Denoiser): number {
  return [...model.variables().values()].reduce((n, v) => n + v.size, 0);
}

async function measure(c: ModelCase): Promise<Row> {
  const built = await build(c.experiment);
  const { model, dataset, schedule, ddim } = built;
  const tensorsBefore = tf.memory().numTensors;
  const training = await measureTraining(c, built, 1);
  const x = tf.randomNormal([c.forwardBatch, ...dataset.imageShape]) as tf.Tensor4D;
  const t = tf.fill([c.forwardBatch], 100, 'int32') as tf.Tensor1D;
  const { pass } = await medianOfRounds({ pass: () => valuesOf(() => model.predict(x, t)) }, { warmup: 1, reps: c.reps });
  tf.dispose([x, t]);
  const forwardImagesPerSecond = (c.forwardBatch * 1000) / pass;
  const sampleRate = (sampler: Sampler | undefined, images: number, evaluations: number) => {
    if (!sampler || images === 0) return forwardImagesPerSecond / evaluations;
    const start = performance.now();
    sampler.sample(model, images, dataset.imageShape, new Rng(1)).dispose();
    return (images * 1000) / (performance.now() - start);
  };
  const ddpm = c.ddpmImages ? ((await resolveDdpm(c.experiment)) as Sampler) : undefined;
  const row: Row = {
    experiment: c.experiment,
    parameters: training.parameters,
    trainImagesPerSecond: training.imagesPerSecond,
    forwardImagesPerSecond,
    ddim50ImagesPerSecond: sampleRate(ddim, c.ddimImages, 50),
    ddpm511ImagesPerSecond: sampleRate(ddpm, c.ddpmImages, schedule.steps - 1),
    sampledNotExtrapolated: c.ddimImages > 0,
    outsideModelShare: training.outsideModelShare,
    tensorsBefore,
    tensorsAfter: tf.memory().numTensors,
  };
  model.dispose();
  return row;
}

/** The experiment's dataset, batching `batchSize` images (the model under test stays the same). */
async function datasetWithBatch(experiment: string, batchSize: number): Promise<Dataset> {
  const config = await resolveExperiment(experiment, { overrides: [`dataset.batch_size=${batchSize}`] });
  return assemble(config.value).get(TOKENS.Dataset) as Dataset;
}

async function resolveDdpm(experiment: string): Promise<unknown> {
  const config = await resolveExperiment(experiment, { overrides: ['sampler={type: ddpm}'] });
  return assemble(config.value).get(TOKENS.Sampler);
}

export const models: Benchmark = {
  name: 'models',
  description: 'training, forward and sampling throughput of the quick-start and paper UNets (one thread)',
  async run() {
    const rows: Row[] = [];
    for (const c of CASES) rows.push(await measure(c));
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    const report = table(
      ['experiment', 'params', 'train img/s', 'forward img/s', 'DDIM-50 img/s', 'DDPM-511 img/s', 'outside model', 'tensors before -> after'],
      rows.map((r) => [
        r.experiment.replace('experiments/', ''),
        r.parameters,
        Object.entries(r.trainImagesPerSecond).map(([b, v]) => `${b}: ${v.toFixed(2)}`).join(', '),
        Number(r.forwardImagesPerSecond.toFixed(2)),
        `${r.ddim50ImagesPerSecond.toFixed(3)}${r.sampledNotExtrapolated ? '' : ' (est.)'}`,
        `${r.ddpm511ImagesPerSecond.toFixed(4)}${r.sampledNotExtrapolated ? '' : ' (est.)'}`,
        `${(r.outsideModelShare * 100).toFixed(1)}%`,
        `${r.tensorsBefore} -> ${r.tensorsAfter}`,
      ]),
    );
    return { report: `${report}\n\npeak RSS ${peakRssMiB.toFixed(0)} MiB (whole process)`, data: { rows, peakRssMiB } };
  },
};
