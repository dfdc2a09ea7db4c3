import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { requestedBackend, selectBackend } from '../framework/backend.js';
import { adamStep, gelu, geluFromOps, movingAverageStep, normalize, normalizeFromOps, registerFusedKernels } from '../framework/kernels/fused-kernels.js';
import { FusedAdamOptimizer } from '../framework/training/adam-optimizer.js';
import { backendReady } from './setup.js';
import { simdKernelsOf } from '../framework/kernels/simd/index.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const test = suite('fused GELU and normalization kernels');

test.before(async () => {
  await backendReady;
  registerFusedKernels('cpu');
});
test.after(async () => {
  await selectBackend(requestedBackend());
});

type Op = (x: tf.Tensor) => tf.Tensor;

/** Largest absolute difference of the outputs and of the gradients (for a random dy) of two ops. */
function differences(fused: Op, fromOps: Op, x: tf.Tensor): { value: number; gradient: number } {
  return tf.tidy(() => {
    const dy = tf.randomNormal(fromOps(x).shape, 0, 1, 'float32', 7);
    const gradient = (op: Op) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(op(v), dy)))(x);
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    return { value: maxDiff(fused(x), fromOps(x)), gradient: maxDiff(gradient(fused), gradient(fromOps)) };
  });
}

for (const backend of ['wasm', 'cpu']) {
  test(`${backend}: fused GELU equals the tf-ops GELU in value and gradient, inside and past the table's ±8`, async () => {
    await selectBackend(backend as 'wasm' | 'cpu');
    const x = tf.concat([tf.randomNormal([500], 0, 3, 'float32', 1), tf.tensor([-20, -8.0001, -8, 0, 8, 8.0001, 20])]);
    const { value, gradient } = differences(gelu, geluFromOps, x);
    assert.ok(value < 2e-6, `value difference ${value}`);
    assert.ok(gradient < 2e-6, `gradient difference ${gradient}`);
    x.dispose();
  });

  test(`${backend}: fused normalization equals moments-based normalization with gamma and beta, for GroupNorm(1) and LayerNorm groups`, async () => {
    await selectBackend(backend as 'wasm' | 'cpu');
    const x = tf.randomNormal([3, 5, 5, 4], 2, 3, 'float32', 2);
    const gamma = tf.tensor1d([0.5, -1, 2, 1.5]);
    const beta = tf.tensor1d([0.1, 0, -0.3, 2]);
    for (const groupSize of [100, 4]) {
      // Differentiated with respect to x, gamma and beta, all packed in one input.
      const affine = (op: typeof normalize) => (packed: tf.Tensor) => {
        const [xs, g, b] = tf.split(packed, [x.size, 4, 4]);
        return op(tf.reshape(xs, x.shape), g as tf.Tensor1D, b as tf.Tensor1D, groupSize, 1e-5);
      };
      const packed = tf.concat([tf.reshape(x, [-1]), gamma, beta]);
      const { value, gradient } = differences(affine(normalize), affine(normalizeFromOps), packed);
      assert.ok(value < 4e-6, `group ${groupSize}: value difference ${value}`);
      assert.ok(gradient < 4e-6, `group ${groupSize}: gradient difference ${gradient}`);
      packed.dispose();
    }
    tf.dispose([x, gamma, beta]);
  });

  test(`${backend}: the fused kernels run (not the fallback) and leak nothing across gradient steps`, async () => {
    await selectBackend(backend as 'wasm' | 'cpu');
    const x = tf.randomNormal([2, 4, 4, 3]);
    const [gamma, beta] = [tf.ones([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D];
    const step = () => tf.dispose(tf.grad((v: tf.Tensor) => tf.sum(gelu(normalize(v, gamma, beta, 48, 1e-5))))(x));
    step();
    const before = tf.memory().numTensors;
    const profile = await tf.profile(step);
    assert.ok(profile.kernelNames.includes('XpGelu') && profile.kernelNames.includes('XpNormalizeGrad'), profile.kernelNames.join(','));
    assert.not.ok(profile.kernelNames.includes('Erf'), 'no Erf kernel');
    for (let i = 0; i < 5; i++) step();
    assert.is(tf.memory().numTensors, before);
    tf.dispose([x, gamma, beta]);
  });
}

test('wasm: the SIMD kernels are built and give what the JavaScript loops give (GELU, normalization, Adam, EMA); shapes they decline take the loops', async () => {
  await selectBackend('wasm');
  assert.ok(simdKernelsOf(tf.backend() as BackendWasm), 'framework/kernels/simd/kernels.wasm is built (npm run build:simd)');
  // 507 values: the last vector overlaps the one before; 3 values: too few for a vector.
  const geluInputs = [tf.randomNormal([507], 0, 4, 'float32', 3), tf.tensor1d([-1, 0.5, 2])];
  // 8 channels go 4 at a time; 3 do not divide.
  const normInputs = [8, 3].map((c) => ({ x: tf.randomNormal([2, 5, 5, c], 1, 2, 'float32', c), c }));
  const outputs = async (backend: 'wasm' | 'cpu') => {
    await selectBackend(backend);
    return tf.tidy(() => {
      const results: Float32Array[] = [];
      for (const x of geluInputs) {
        const copy = tf.tensor(x.dataSync(), x.shape);
        results.push(gelu(copy).dataSync() as Float32Array, tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gelu(v), v)))(copy).dataSync() as Float32Array);
      }
      for (const { x, c } of normInputs) {
        const copy = tf.tensor(x.dataSync(), x.shape);
        const [gamma, beta] = [tf.linspace(0.5, 1.5, c) as tf.Tensor1D, tf.linspace(-1, 1, c) as tf.Tensor1D];
        for (const groupSize of [c, 25 * c]) {
          const f = (v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(normalize(v, g as tf.Tensor1D, b as tf.Tensor1D, groupSize, 1e-5), tf.sin(v)));
          results.push(normalize(copy, gamma, beta, groupSize, 1e-5).dataSync() as Float32Array);
          for (const grad of tf.grads(f)([copy, gamma, beta])) results.push(grad.dataSync() as Float32Array);
        }
      }
      // 7 values: one vector and an overlapping one; Adam at its second step.
      const [value, m, v, g] = [1, 2, 3, 4].map((seed) => tf.randomNormal([7], 0, 1, 'float32', seed));
      const step = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, correction1: 1 - 0.9 ** 2, correction2: 1 - 0.999 ** 2 };
      for (const t of adamStep(value, m, tf.abs(v), g, step)!) results.push(t.dataSync() as Float32Array);
      results.push(movingAverageStep(value, g, 0.995).dataSync() as Float32Array);
      return results;
    });
  };
  const simd = await outputs('wasm');
  const loops = await outputs('cpu');
  simd.forEach((values, i) => values.forEach((v, j) =>
    assert.ok(Math.abs(v - loops[i][j]) <= 2e-6 * Math.max(1, Math.abs(loops[i][j])), `output ${i}[${j}]: ${v} vs ${loops[i][j]}`)));
  tf.dispose([...geluInputs, ...normInputs.map(({ x }) => x)]);
});

/** Runs `steps` Adam updates of two variables with fixed gradients; returns their values and the optimizer's weights. */
async function adamRun(optimizer: tf.Optimizer, steps: number, start?: Awaited<ReturnType<tf.Optimizer['getWeights']>>): Promise<{ values: number[]; weights: number[] }> {
  const a = tf.variable(tf.tensor([0.5, -1, 2]), true, 'adam_test_a');
  const b = tf.variable(tf.tensor([[3, -4]]), true, 'adam_test_b');
  if (start) await optimizer.setWeights(start);
  for (let i = 0; i < steps; i++) {
    const grads = { adam_test_a: tf.tensor([0.1 * i, -2, 0.03]), adam_test_b: tf.tensor([[1e-3, 5]]) };
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const weights = await optimizer.getWeights();
  const result = {
    values: [...a.dataSync(), ...b.dataSync()],
    weights: weights.flatMap((w) => [...w.tensor.dataSync()]),
  };
  tf.dispose([a, b]);
  return result;
}

test('wasm: fused Adam matches tfjs Adam step for step, in weights and in its saved state, also after restoring that state', async () => {
  await selectBackend('wasm');
  const close = (actual: number[], expected: number[], label: string) =>
    expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= 1e-6 * Math.max(1, Math.abs(e)), `${label}[${i}]: ${actual[i]} vs ${e}`));
  const reference = await adamRun(tf.train.adam(0.01, 0.9, 0.99, 1e-8), 5);
  const fused = await adamRun(new FusedAdamOptimizer(0.01, 0.9, 0.99, 1e-8), 5);
  close(fused.values, reference.values, 'values');
  close(fused.weights, reference.weights, 'optimizer weights');
  const saved = new FusedAdamOptimizer(0.01, 0.9, 0.99, 1e-8);
  await adamRun(saved, 2);
  const resumed = await adamRun(new FusedAdamOptimizer(0.01, 0.9, 0.99, 1e-8), 3, await saved.getWeights());
  const uninterrupted = await adamRun(tf.train.adam(0.01, 0.9, 0.99, 1e-8), 3, await saved.getWeights());
  close(resumed.values, uninterrupted.values, 'resumed values');
});

test('fused normalization keeps unit variance for values far from zero (shifted one-pass statistics)', async () => {
  await selectBackend('wasm');
  const x = tf.add(1000, tf.randomNormal([2, 4, 4, 3], 0, 0.01, 'float32', 3));
  const y = normalize(x, tf.ones([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D, 48, 1e-12);
  const { mean, variance } = tf.moments(y, [1, 2, 3]);
  for (const m of mean.dataSync()) assert.ok(Math.abs(m) < 1e-3, `mean ${m}`);
  for (const v of variance.dataSync()) assert.ok(Math.abs(v - 1) < 1e-3, `variance ${v}`);
  tf.dispose([x, y, mean, variance]);
});

test('normalize rejects a group size that does not divide the tensor', () => {
  assert.throws(() => normalize(tf.zeros([10]), tf.ones([1]), tf.zeros([1]), 3, 1e-5), /groups of 3/);
});

test.run();
