/**
 * Sample metrics: FID math, class metrics, the sample-file readers, the classifier cache and
 * `xp eval` end to end. The tests use quickly trained classifiers (overrides of
 * experiments/mnist-classifier.yaml, in temporary cache folders), never the full training.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendReady } from './setup.js';
import { xp } from './support/cli.js';
import { featureStats, frechetDistance, type FeatureStats } from '../framework/eval/fid.js';
import { classMetrics, entropyBits } from '../framework/eval/metrics.js';
import { readSampleImages, splitImageGrid } from '../app/eval/sample-files.js';
import { loadClassifier } from '../app/eval/classifier-cache.js';
import { resolveExperiment } from '../framework/config/resolve.js';
import { assemble } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { CheckpointData } from '../framework/run/checkpoint.js';
import type { Dataset, Recorder, Shape3, Trainer } from '../framework/interfaces.js';
import { BatchSource } from '../framework/data/batches.js';
import { component, Type } from '../framework/registry/index.js';
import { Evaluation } from '../framework/eval/evaluation.js';
import { encodeGrayPng, imageGrid } from '../framework/records/png.js';
import { writeNpyUint8 } from '../framework/data/npy.js';
import { writeIdx } from '../framework/data/idx.js';
import { loadMnist } from '../framework/data/mnist.js';
import { Rng } from '../framework/rng.js';
import { samplingBatch } from '../framework/eval/sampling.js';
import type { Denoiser } from '../framework/interfaces.js';
import { registerBuiltins } from '../components/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-eval-'));
/** One cache for the quick classifier every end-to-end test shares, so it trains once. */
const sharedCache = path.join(tmp, 'cache');
/** A few seconds of training: ~95% test accuracy, plenty to tell digits from noise. */
const QUICK = ['model.channels=[8,16]', 'model.features=32', 'trainer.max_steps=150'];
/** Two steps on 128 images: only for the cache's bookkeeping. */
const TINY = ['model.channels=[4]', 'model.features=8', 'trainer.max_steps=2', 'dataset.limit=128'];
const classifierSet = QUICK.flatMap((o) => ['--classifier-set', o]);

function gaussianFeatures(n: number, means: number[], stds: number[], rng: Rng): Float32Array {
  const dim = means.length;
  return Float32Array.from({ length: n * dim }, (_, i) => means[i % dim] + stds[i % dim] * rng.normal());
}

function diagonalStats(means: number[], stds: number[]): FeatureStats {
  const dim = means.length;
  const covariance = new Float64Array(dim * dim);
  stds.forEach((s, d) => (covariance[d * dim + d] = s * s));
  return { n: 1000, dim, mean: Float64Array.from(means), covariance };
}

/** ‖μ₁ − μ₂‖² + Σ (σ₁ − σ₂)²: FID of Gaussians with diagonal covariances. */
function diagonalFid(m1: number[], s1: number[], m2: number[], s2: number[]): number {
  return m1.reduce((sum, m, d) => sum + (m - m2[d]) ** 2 + (s1[d] - s2[d]) ** 2, 0);
}

test("--batch auto: 500 images a call for the quick start's model, 16 for the paper's (what fits the wasm heap); a number is kept", async () => {
  await backendReady;
  const modelOf = async (file: string) => {
    const config = await resolveExperiment(file, { registry: registerBuiltins() });
    return assemble(config).get(TOKENS.Model) as Denoiser;
  };
  for (const [file, expected] of [['experiments/quickstart.yaml', 500], ['experiments/mnist-ema.yaml', 16]] as const) {
    const model = await modelOf(file);
    try {
      assert.is(samplingBatch(model, 'auto'), expected, file);
      assert.is(samplingBatch(model, 7), 7);
    } finally {
      model.dispose();
    }
  }
});

test('FID of a feature set with itself is 0', () => {
  const stats = featureStats(gaussianFeatures(300, [0, 1, -2, 3, 0.5], [1, 2, 0.5, 1, 3], new Rng(1)), 5);
  assert.ok(Math.abs(frechetDistance(stats, stats)) < 1e-8, String(frechetDistance(stats, stats)));
});

test('FID of Gaussians with diagonal covariances matches the closed form', () => {
  const [m1, s1, m2, s2] = [[0, 1, 2], [1, 2, 3], [1, -1, 2], [2, 1, 0.5]];
  assert.ok(Math.abs(frechetDistance(diagonalStats(m1, s1), diagonalStats(m2, s2)) - diagonalFid(m1, s1, m2, s2)) < 1e-9);
  const sampled = frechetDistance(
    featureStats(gaussianFeatures(20000, m1, s1, new Rng(2)), 3),
    featureStats(gaussianFeatures(20000, m2, s2, new Rng(3)), 3),
  );
  assert.ok(Math.abs(sampled - diagonalFid(m1, s1, m2, s2)) < 0.2, `sampled ${sampled} vs ${diagonalFid(m1, s1, m2, s2)}`);
});

test('class metrics: a uniform class histogram has log2(10) bits; one class 0; confidence from the top probability', () => {
  assert.ok(Math.abs(entropyBits(new Array(10).fill(7)) - Math.log2(10)) < 1e-12);
  assert.is(entropyBits([0, 12, 0]), 0);
  // 20 images: two per class, each 0.95 sure of its class.
  const probabilities = new Float32Array(20 * 10).fill(0.05 / 9);
  for (let i = 0; i < 20; i++) probabilities[i * 10 + (i % 10)] = 0.95;
  const metrics = classMetrics({ n: 20, probabilities, classes: 10, features: new Float32Array(20), featureDim: 1 });
  assert.ok(Math.abs(metrics.confidence - 0.95) < 1e-6 && metrics.confident === 1);
  assert.ok(Math.abs(metrics.classEntropy - Math.log2(10)) < 1e-12);
});

test('the PNG grid reader inverts imageGrid, trailing empty cells included; .idx and .npy read back too', () => {
  const rng = new Rng(4);
  const n = 7; // a 3×3 grid with two empty cells
  const images = Uint8Array.from({ length: n * 28 * 28 }, () => rng.int(1, 255));
  const grid = imageGrid(images, n, 28, 28);
  const file = path.join(tmp, 'grid.png');
  fs.writeFileSync(file, encodeGrayPng(grid.pixels, grid.width, grid.height));
  const read = readSampleImages(file, 28, 28);
  assert.is(read.n, n);
  assert.equal(read.pixels, images);
  for (const [name, write] of [['s.npy', writeNpyUint8], ['s.idx', writeIdx]] as const) {
    write(path.join(tmp, name), [n, 28, 28], images);
    assert.equal(readSampleImages(path.join(tmp, name), 28, 28).pixels, images);
  }
  assert.match(String(splitImageGrid({ pixels: new Uint8Array(50 * 40), width: 50, height: 40 }, 28, 28)), /not a grid of 28×28/);
  assert.throws(() => readSampleImages(path.join(tmp, 's.npy'), 32, 32), /s\.npy: holds an array of shape 7×28×28; expected N×32×32/);
});

test('the classifier cache: trained once, then loaded; a checksum mismatch retrains', async () => {
  await backendReady;
  const cacheRoot = path.join(tmp, 'tiny-cache');
  const load = () => loadClassifier({ cacheRoot, overrides: TINY, quiet: true });
  const first = await load();
  first.classifier.dispose();
  const again = await load();
  again.classifier.dispose();
  assert.equal([first.trained, again.trained], [true, false]);
  assert.is(again.info.sha256, first.info.sha256);

  const weights = path.join(first.dir, 'weights.bin');
  const bytes = fs.readFileSync(weights);
  bytes[100] ^= 0xff;
  fs.writeFileSync(weights, bytes);
  const repaired = await load();
  repaired.classifier.dispose();
  assert.ok(repaired.trained, 'a corrupt cache is retrained');
  assert.is(repaired.info.sha256, first.info.sha256, 'the same seed trains the same weights');
  assert.equal(fs.readdirSync(path.dirname(first.dir)), [path.basename(first.dir)], 'no temporary folder left behind');
});

test("a classifier's training stopped and resumed gives exactly the losses and accuracy of an uninterrupted run", async () => {
  await backendReady;
  const fit = async (stopAfter: number, resumeFrom?: CheckpointData) => {
    const config = await resolveExperiment('experiments/mnist-classifier.yaml', { registry: registerBuiltins(), overrides: [...TINY, 'trainer.epochs=3', 'trainer.max_steps=6'] });
    const trainer = assemble(config).get(TOKENS.Trainer) as Trainer;
    const scalars: [string, number][] = [];
    const record: Recorder = { scalar: (tag, value) => scalars.push([tag, value]), image: () => {}, text: () => {} };
    let saved: CheckpointData | undefined;
    const checkpoints = {
      save: async (step: number, data: CheckpointData) => {
        saved = { state: { step, ...data.state }, tensors: new Map([...data.tensors].map(([k, t]) => [k, tf.clone(t)])) };
        return 'memory';
      },
    };
    const steps = () => scalars.filter(([tag]) => tag === 'Training/CrossEntropy').length;
    const result = await trainer.fit({ record, quiet: true, stopRequested: () => steps() >= stopAfter, checkpoints, resumeFrom });
    return { result, scalars, saved: saved! };
  };
  const whole = await fit(Infinity);
  const first = await fit(3);
  assert.is(first.result.status, 'interrupted');
  const rest = await fit(Infinity, first.saved);
  assert.equal([rest.result.status, rest.result.steps], ['completed', 6]);
  assert.equal([...first.scalars, ...rest.scalars], whole.scalars);
  tf.dispose([...first.saved.tensors.values()]);
});

/** A dataset of blank images without labels: what the classifier trainer must refuse. */
class UnlabeledProbe implements Dataset {
  readonly imageShape: Shape3 = [28, 28, 1];
  readonly size = 64;
  readonly normalize = 'minus-one-one';

  batches(rng: Rng): BatchSource {
    const { size: count, normalize } = this;
    return new BatchSource({ images: new Uint8Array(count * 784), count, height: 28, width: 28, batchSize: count, shuffle: false, normalize, rng });
  }
}

test('the cross-entropy objective refuses a dataset without labels or outside [-1, 1], naming the setting', async () => {
  const registry = registerBuiltins();
  component('dataset', 'unlabeled-probe', { description: 'blank images, no labels', params: Type.Object({}) })(UnlabeledProbe);
  registry.addModule('probe', { UnlabeledProbe });
  const trainerOf = async (overrides: string[]) => {
    const config = await resolveExperiment('experiments/mnist-classifier.yaml', { registry, overrides: [...TINY, ...overrides] });
    return () => assemble(config).get(TOKENS.Trainer);
  };
  assert.throws(await trainerOf(['dataset.normalize=standardize']), /^dataset\.normalize: the classifier needs 'minus-one-one'.*got 'standardize'/);
  const unlabeled = await trainerOf(['dataset={type: unlabeled-probe}', '~callbacks.accuracy']);
  assert.throws(unlabeled, /^dataset\.type: the cross-entropy objective needs a dataset with labels; this one has none$/);
});

test('an evaluation frees its tensors; real test digits score near the floor, noise near the ceiling', async () => {
  await backendReady;
  const { classifier } = await loadClassifier({ cacheRoot: sharedCache, overrides: QUICK, quiet: true });
  const evaluation = await Evaluation.create(classifier, 200, 28, 28);
  const before = tf.memory().numTensors;
  const test = loadMnist({ split: 'test' });
  const real = await evaluation.measure(test.images.subarray(0, 200 * 28 * 28));
  assert.is(tf.memory().numTensors, before);
  classifier.dispose();
  const { floor, ceiling } = evaluation;
  assert.ok(real.fid < ceiling.fid / 10 && floor.fid < ceiling.fid / 10, JSON.stringify({ real, floor, ceiling }));
  assert.ok(real.confidence > ceiling.confidence && real.classEntropy > 3, JSON.stringify(real));
});

test('xp eval --json: a .npy of real test digits scores far better than one of noise', () => {
  const test = loadMnist({ split: 'test' });
  const n = 300;
  const realFile = path.join(tmp, 'real.npy');
  const noiseFile = path.join(tmp, 'noise.npy');
  writeNpyUint8(realFile, [n, 28, 28], test.images.slice(-n * 28 * 28));
  const rng = new Rng(5);
  writeNpyUint8(noiseFile, [n, 28, 28], Uint8Array.from({ length: n * 28 * 28 }, () => rng.int(0, 255)));
  const [real, noise] = [realFile, noiseFile].map((file) => {
    const result = xp(['eval', file, '--json', ...classifierSet], undefined, { XP_CACHE_DIR: sharedCache });
    assert.is(result.code, 0, result.stderr);
    return JSON.parse(result.stdout);
  });
  assert.is(real.n, n);
  assert.is(real.reference.images, 10000 - n);
  assert.ok(real.samples.fid * 10 < noise.samples.fid, `real ${real.samples.fid}, noise ${noise.samples.fid}`);
  assert.ok(real.samples.confidence > noise.samples.confidence);
  assert.equal(real.floor, noise.floor, 'the floor does not depend on the samples');
  assert.ok(Math.abs(noise.samples.fid - noise.ceiling.fid) < noise.ceiling.fid / 5, 'uniform noise scores like the ceiling');

  const bad = xp(['eval', path.join(tmp, 'grid.png'), '--n', '9', ...classifierSet], undefined, { XP_CACHE_DIR: sharedCache });
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /grid\.png: --n 9 asks for more images than the 7 it holds/);
});

test('the eval callback records Eval/FID and Eval/EMA_FID with floor and ceiling; xp eval samples a run', () => {
  const runsDir = path.join(tmp, 'runs');
  const evalCallback = `{type: eval, n: 16, every_epochs: 0, sampler: {type: ddim, steps: 2}, classifier_set: ${JSON.stringify(QUICK)}}`;
  const run = xp(
    [
      'run', 'experiments/quickstart.yaml', '--runs-dir', runsDir, '--set', 'trainer.max_steps=2', '--set', 'dataset.batch_size=4',
      '--set', '~callbacks.samples', '--set', '~callbacks.ema_samples', '--set', '~callbacks.final_samples',
      '--set', `+callbacks.eval=${evalCallback}`,
    ],
    undefined,
    { XP_CACHE_DIR: sharedCache },
  );
  assert.is(run.code, 0, run.stderr);
  const [stamp] = fs.readdirSync(path.join(runsDir, 'quickstart'));
  const dir = path.join(runsDir, 'quickstart', stamp);
  const { metrics } = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  for (const prefix of ['', 'EMA_', 'Real_', 'Noise_']) {
    for (const name of ['FID', 'Confidence', 'Confident', 'ClassEntropy']) assert.type(metrics[`Eval/${prefix}${name}`], 'number', `${prefix}${name}`);
  }
  assert.ok(metrics['Eval/Real_FID'] < metrics['Eval/Noise_FID']);

  const sampled = xp(['eval', dir, '--n', '8', '--steps', '2', '--ema', '--json', ...classifierSet], undefined, { XP_CACHE_DIR: sharedCache });
  assert.is(sampled.code, 0, sampled.stderr);
  const report = JSON.parse(sampled.stdout);
  assert.equal([report.n, report.weights, path.basename(report.source)], [8, 'ema', 'step-00000002']);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
