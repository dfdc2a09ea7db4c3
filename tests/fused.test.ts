import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { requestedBackend, selectBackend } from '../framework/backend.js';
import { gelu, geluFromOps, normalize, normalizeFromOps, registerFusedKernels } from '../framework/nn/fused.js';
import { backendReady } from './setup.js';

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
    const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 7);
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

  test(`${backend}: fused normalization equals moments-based normalization for GroupNorm(1) and LayerNorm groups`, async () => {
    await selectBackend(backend as 'wasm' | 'cpu');
    const x = tf.randomNormal([3, 5, 5, 4], 2, 3, 'float32', 2);
    for (const groupSize of [100, 4]) {
      const { value, gradient } = differences((v) => normalize(v, groupSize, 1e-5), (v) => normalizeFromOps(v, groupSize, 1e-5), x);
      assert.ok(value < 2e-6, `group ${groupSize}: value difference ${value}`);
      assert.ok(gradient < 2e-6, `group ${groupSize}: gradient difference ${gradient}`);
    }
    x.dispose();
  });

  test(`${backend}: the fused kernels run (not the fallback) and leak nothing across gradient steps`, async () => {
    await selectBackend(backend as 'wasm' | 'cpu');
    const x = tf.randomNormal([2, 4, 4, 3]);
    const step = () => tf.dispose(tf.grad((v: tf.Tensor) => tf.sum(gelu(normalize(v, 48, 1e-5))))(x));
    step();
    const before = tf.memory().numTensors;
    const profile = await tf.profile(step);
    assert.ok(profile.kernelNames.includes('XpGelu') && profile.kernelNames.includes('XpNormalizeGrad'), profile.kernelNames.join(','));
    assert.not.ok(profile.kernelNames.includes('Erf'), 'no Erf kernel');
    for (let i = 0; i < 5; i++) step();
    assert.is(tf.memory().numTensors, before);
    x.dispose();
  });
}

test('normalize rejects a group size that does not divide the tensor', () => {
  assert.throws(() => normalize(tf.zeros([10]), 3, 1e-5), /groups of 3/);
});

test.run();
