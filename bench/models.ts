/**
 * The models xp trains, end to end on one thread: a training step (gradients + Adam) at two
 * batch sizes, forward passes, sampling with DDIM and DDPM, what a step spends outside the
 * model (data, noise, EMA), peak memory and the tensor count. The paper's UNet runs only the
 * shapes a 2-core machine finishes in a few minutes; its DDPM sampling is extrapolated from
 * its forward pass (511 of them per image), and the report says so. On a GPU both models train
 * at the paper's batch of 64, and the report gives the share of the GPU's FP32 peak reached;
 * on a software WebGPU adapter only the quick start runs, at small shapes.
 */
import { registerBuiltins } from '../components/index.js';
import * as tf from '@tensorflow/tfjs';
import { resolveExperiment } from '../framework/config/resolve.js';
import { assemble } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { Dataset, Denoiser, NoiseSchedule, Objective, OptimizerFactory, PreparedBatch, Sampler } from '../framework/interfaces.js';
import { startGradients } from '../framework/training/parallel-gradients.js';
import { EmaWeights } from '../framework/training/ema-weights.js';
import { examplesPerPass, forwardFlopsPerExample } from '../framework/training/slices.js';
import { Rng } from '../framework/rng.js';
import { readScalar, readValues } from '../framework/tensors.js';
import { samplesToBytes } from '../framework/records/samples.js';
import { medianOfRounds, settle, table, type Benchmark, type BenchmarkContext } from './harness.js';

export interface ModelCase {
  experiment: string;
  trainBatches: number[];
  forwardBatch: number;
  /** Images sampled with each sampler; 0 skips (extrapolated from the forward pass instead). */
  ddimImages: number;
  ddpmImages: number;
  /** Timed rounds, of each training batch and of the forward pass, after `warmup` (default 1) untimed ones. */
  reps: number;
  warmup?: number;
}

// The paper's UNet takes seconds a training step here, so two timed steps. The quick start's
// take a tenth of a second: ten, after three warm-ups (worker threads' first steps are slow,
// and with three timed steps the median was one disturbed step away from wrong).
export const CASES: ModelCase[] = [
  { experiment: 'experiments/quickstart.yaml', trainBatches: [64, 32, 8], forwardBatch: 64, ddimImages: 16, ddpmImages: 4, reps: 10, warmup: 3 },
  { experiment: 'experiments/mnist-standard.yaml', trainBatches: [8], forwardBatch: 4, ddimImages: 0, ddpmImages: 0, reps: 2 },
];

/** On a GPU: both models at the paper's batch (mnist-ema.yaml: the paper's model with its EMA); two warm-ups, as the first compiles the shaders. */
const GPU_CASES: ModelCase[] = [
  { experiment: 'experiments/quickstart.yaml', trainBatches: [64], forwardBatch: 64, ddimImages: 64, ddpmImages: 16, reps: 5, warmup: 2 },
  { experiment: 'experiments/mnist-ema.yaml', trainBatches: [64], forwardBatch: 64, ddimImages: 16, ddpmImages: 0, reps: 5, warmup: 2 },
];

/** On a software WebGPU adapter (lavapipe: many times slower than wasm), only what shows the path works. */
const SOFTWARE_CASES: ModelCase[] = [
  { experiment: 'experiments/quickstart.yaml', trainBatches: [8], forwardBatch: 8, ddimImages: 2, ddpmImages: 0, reps: 2 },
];

function casesFor(context: BenchmarkContext): ModelCase[] {
  if (context.gpu) return GPU_CASES;
  return context.backend === 'webgpu' ? SOFTWARE_CASES : CASES;
}

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
  ddpmSampled: boolean;
  outsideModelShare: number;
  tensorsBefore: number;
  tensorsAfter: number;
  /** Training FLOP per image: 3 forward passes' (the forward, and the gradients of inputs and of weights). */
  trainFlopPerImage: number;
}

/** The experiment's components, with the DDIM-50 sampler in place of its own. */
export async function build(experiment: string) {
  const config = await resolveExperiment(experiment, {
    registry: registerBuiltins(),
    overrides: ['sampler={type: ddim, steps: 50}', 'objective.timesteps=per-example'],
  });
  const container = assemble(config);
  return {
    experiment: config.value,
    modules: config.registry.modules,
    objective: container.get(TOKENS.Objective) as Objective,
    model: container.get(TOKENS.Model) as Denoiser,
    dataset: container.get(TOKENS.Dataset) as Dataset,
    schedule: container.get(TOKENS.Schedule) as NoiseSchedule,
    optimizer: container.get(TOKENS.Optimizer) as OptimizerFactory,
    ddim: container.get(TOKENS.Sampler) as Sampler,
  };
}

type Built = Awaited<ReturnType<typeof build>>;

/** The threads to train a model at a batch size on. */
export type ThreadsFor = (model: Built['model'], batchSize: number) => number;

/**
 * Training throughput of the case's model, built afresh and freed after (what bench/vs-pytorch.ts
 * compares), on the threads `threadsFor` picks for it at each batch size.
 */
export async function measureTrainingOf(c: ModelCase, threadsFor: ThreadsFor): Promise<Training> {
  const built = await build(c.experiment);
  try {
    return await measureTraining(c, built, threadsFor);
  } finally {
    disposeBuilt(built);
  }
}

/**
 * Median time of a training step at each of the case's batch sizes: what the trainer does
 * (MNIST batch, per-example timesteps, noise, x_t, gradients in the slices the wasm heap
 * holds, on the threads `threadsFor` gives, as `trainer.threads` would, the experiment's
 * optimizer, EMA), after warm-up steps. Frees everything it made but the model.
 */
async function measureTraining(c: ModelCase, built: Built, threadsFor: ThreadsFor): Promise<Training> {
  const { model, objective, optimizer: optimizerFactory } = built;
  const optimizer = optimizerFactory.create();
  const rng = new Rng(0);
  const imagesPerSecond: Record<string, number> = {};
  let outsideModelShare = 0;
  for (const batchSize of c.trainBatches) {
    const batches = (await datasetWithBatch(c.experiment, batchSize)).batches(rng.fork(batchSize));
    const setup = { modules: built.modules, experiment: built.experiment, examplesPerPass: examplesPerPass(model, 'auto') };
    const gradients = await startGradients(model, objective, setup, threadsFor(model, batchSize));
    const [firstVariable] = model.variables().values();
    const ema = new EmaWeights(model.variables());
    let prepared: PreparedBatch | undefined;
    process.stderr.write(`xp: ${c.experiment}, training at batch ${batchSize}\n`);
    const times = await medianOfRounds(
      {
        // Everything a step does outside the model: the batch, timesteps, noise, x_t, the EMA.
        outside: async () => {
          if (prepared) tf.dispose(Object.values(prepared));
          const x = batches.toTensor(batches.nextBatch());
          prepared = objective.prepare({ x }, rng);
          x.dispose();
          ema.update(model.variables(), 0.995);
          await settle(prepared.xt);
        },
        model: async () => {
          const { grads } = await gradients.compute(prepared!);
          optimizer.applyGradients(grads as Record<string, tf.Variable>);
          tf.dispose(Object.values(grads));
          await settle(firstVariable);
        },
      },
      { warmup: c.warmup ?? 1, reps: c.reps },
    );
    tf.dispose(Object.values(prepared!));
    ema.dispose();
    gradients.dispose();
    imagesPerSecond[`batch ${batchSize}`] = (batchSize * 1000) / (times.outside + times.model);
    process.stderr.write(`xp: ${c.experiment}, batch ${batchSize}: ${imagesPerSecond[`batch ${batchSize}`].toFixed(2)} img/s (median step ${(times.outside + times.model).toFixed(0)} ms)\n`);
    outsideModelShare = Math.max(outsideModelShare, times.outside / (times.outside + times.model));
  }

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
  const training = await measureTraining(c, built, () => 1);
  const x = tf.randomNormal([c.forwardBatch, ...dataset.imageShape]) as tf.Tensor4D;
  const t = tf.fill([c.forwardBatch], 100, 'int32') as tf.Tensor1D;
  const { pass } = await medianOfRounds({ pass: () => readValues(() => model.predict(x, t)) }, { warmup: c.warmup ?? 1, reps: c.reps });
  tf.dispose([x, t]);
  const forwardImagesPerSecond = (c.forwardBatch * 1000) / pass;
  const sampleRate = async (sampler: Sampler | undefined, images: number, evaluations: number) => {
    if (!sampler || images === 0) return forwardImagesPerSecond / evaluations;
    const start = performance.now();
    await samplesToBytes(sampler.sample(model, images, dataset.imageShape, new Rng(1)));
    return (images * 1000) / (performance.now() - start);
  };
  const ddpm = c.ddpmImages ? ((await resolveDdpm(c.experiment)) as Sampler) : undefined;
  const ddim50ImagesPerSecond = await sampleRate(ddim, c.ddimImages, 50);
  const ddpm511ImagesPerSecond = await sampleRate(ddpm, c.ddpmImages, schedule.steps - 1);
  // The objective builds its forward process's constants at its first batch: freed first, so
  // the count compares like with like (a tensor left over by the measured work shows).
  built.objective.dispose?.();
  const row: Row = {
    experiment: c.experiment,
    parameters: training.parameters,
    trainImagesPerSecond: training.imagesPerSecond,
    forwardImagesPerSecond,
    ddim50ImagesPerSecond,
    ddpm511ImagesPerSecond,
    sampledNotExtrapolated: c.ddimImages > 0,
    ddpmSampled: c.ddpmImages > 0,
    outsideModelShare: training.outsideModelShare,
    tensorsBefore,
    tensorsAfter: tf.memory().numTensors,
    trainFlopPerImage: 3 * forwardFlopsPerExample(model),
  };
  model.dispose();
  return row;
}

/** The model's weights and the objective's constants (its forward process), as the runner frees them after a run. */
function disposeBuilt(built: Built): void {
  built.model.dispose();
  built.objective.dispose?.();
}

/** The experiment's dataset, batching `batchSize` images (the model under test stays the same). */
async function datasetWithBatch(experiment: string, batchSize: number): Promise<Dataset> {
  const config = await resolveExperiment(experiment, { registry: registerBuiltins(), overrides: [`dataset.batch_size=${batchSize}`] });
  return assemble(config).get(TOKENS.Dataset) as Dataset;
}

async function resolveDdpm(experiment: string): Promise<unknown> {
  const config = await resolveExperiment(experiment, { registry: registerBuiltins(), overrides: ['sampler={type: ddpm}'] });
  return assemble(config).get(TOKENS.Sampler);
}

export const models: Benchmark = {
  name: 'models',
  description: 'training, forward and sampling throughput of the quick-start and paper UNets (one thread; on a GPU, batch 64 and the share of its FP32 peak)',
  async run(context) {
    const rows: Row[] = [];
    for (const c of casesFor(context)) {
      rows.push(await measure(c));
      // Each model's numbers as soon as they are in: a later model that fails (or a run cut short) keeps them.
      process.stderr.write(`xp: ${JSON.stringify(rows[rows.length - 1])}\n`);
    }
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    const report = table(
      ['experiment', 'params', 'train img/s', 'forward img/s', 'DDIM-50 img/s', 'DDPM-511 img/s', 'outside model', 'tensors before -> after'],
      rows.map((r) => [
        r.experiment.replace('experiments/', ''),
        r.parameters,
        Object.entries(r.trainImagesPerSecond).map(([b, v]) => `${b}: ${v.toFixed(2)}`).join(', '),
        Number(r.forwardImagesPerSecond.toFixed(2)),
        `${r.ddim50ImagesPerSecond.toFixed(3)}${r.sampledNotExtrapolated ? '' : ' (est.)'}`,
        `${r.ddpm511ImagesPerSecond.toFixed(4)}${r.ddpmSampled ? '' : ' (est.)'}`,
        `${(r.outsideModelShare * 100).toFixed(1)}%`,
        `${r.tensorsBefore} -> ${r.tensorsAfter}`,
      ]),
    );
    const gpuLines = context.gpu ? peakShares(rows, context.gpu) : [];
    return {
      report: [report, '', ...gpuLines, `peak RSS ${peakRssMiB.toFixed(0)} MiB (whole process)`].join('\n'),
      data: { rows, peakRssMiB, gpu: context.gpu, fp32Shares: gpuLines },
    };
  },
};

/** Each model's training rate as FLOP/s and as a share of the GPU's FP32 peak. */
function peakShares(rows: Row[], gpu: NonNullable<BenchmarkContext['gpu']>): string[] {
  const lines = [`GPU: ${gpu.name}, FP32 peak ${gpu.fp32PeakTflops ? `${gpu.fp32PeakTflops} TFLOP/s` : 'unknown (pass --fp32-peak TFLOPS)'}`];
  for (const r of rows) {
    for (const [batch, rate] of Object.entries(r.trainImagesPerSecond)) {
      const tflops = (rate * r.trainFlopPerImage) / 1e12;
      const share = gpu.fp32PeakTflops ? `, ${((100 * tflops) / gpu.fp32PeakTflops).toFixed(1)}% of FP32 peak` : '';
      lines.push(`${r.experiment.replace('experiments/', '')} ${batch}: ${rate.toFixed(1)} img/s x ${(r.trainFlopPerImage / 1e9).toFixed(2)} GFLOP = ${tflops.toFixed(2)} TFLOP/s${share}`);
    }
  }
  return lines;
}
