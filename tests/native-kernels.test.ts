/**
 * The native (oneDNN) kernels against tfjs's cpu backend: forward and gradients of convolutions,
 * matrix products, GELU, normalization, add and multiply, softmax, sums, max pooling, bilinear
 * resizing, concatenations and splits
 * on random shapes, that the addon and not a fallback computed them, no
 * leaks, and the wasm path where the addon is absent or switched off. CI builds the addon
 * (.ci/run); elsewhere these tests fail with the one line that builds it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { requestedBackend, selectBackend } from '../framework/backend.js';
import {
  nativeCallCounts, nativeKernelStatus, registerNativeKernels, setNativeThreads, unregisterNativeKernels,
} from '../framework/kernels/native/onednn-kernels.js';
import { gelu, normalize } from '../framework/kernels/fused-kernels.js';
import { xp } from './support/cli.js';
import { randomHost, toTensor, type Differentiable, type HostTensor } from './support/host-tensors.js';
import { backendReady } from './setup.js';

const test = suite('native kernels');

test.before(async () => {
  await backendReady;
  await selectBackend('wasm');
  const status = nativeKernelStatus();
  assert.ok(status.active, `the native kernels are not in use: ${status.detail}`);
});
test.after(async () => {
  await selectBackend(requestedBackend());
});

type Shape4D = [number, number, number, number];

/** Relative to the cpu backend's result (L2 norms): float32 sums in another order differ by ~1e-6. */
const MAX_RELATIVE_ERROR = 1e-4;

/** f's output and its gradients for all inputs, for one upstream gradient, on `backend`. */
async function outputAndGradients(backend: string, f: Differentiable, inputs: HostTensor[], dy: HostTensor, gradients: boolean): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const tensors = inputs.map(toTensor);
    const y = f(...tensors);
    const grads = gradients ? tf.grads(f)(tensors, toTensor(dy)) : [];
    return [y, ...grads].map((t) => Float32Array.from(t.dataSync()));
  });
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  // A floor of 1e-6 per value (so 1e-7 RMS absolute at MAX_RELATIVE_ERROR): a result near zero,
  // such as one GELU gradient near its root at -0.75, is compared absolutely, not relatively.
  return Math.sqrt(diff / Math.max(norm, expected.length * 1e-6));
}

function calls(kernel: string): number {
  return nativeCallCounts().get(kernel) ?? 0;
}

/**
 * Checks f (and its gradients, unless `gradients` is false) on wasm with the native kernels
 * against cpu, and that the native kernels named in `expectNative` computed at least one call each.
 */
async function checkAgainstCpu(label: string, f: Differentiable, shapes: number[][], expectNative: string[], gradients = true): Promise<void> {
  const inputs = shapes.map(randomHost);
  const outShape = tf.tidy(() => f(...inputs.map(toTensor)).shape);
  const dy = randomHost(outShape);
  const before = expectNative.map(calls);
  try {
    const native = await outputAndGradients('wasm', f, inputs, dy, gradients);
    const cpu = await outputAndGradients('cpu', f, inputs, dy, gradients);
    expectNative.forEach((kernel, i) => assert.ok(calls(kernel) > before[i], `${label}: ${kernel} was not computed by the native kernel`));
    native.forEach((values, i) => {
      const what = i === 0 ? 'output' : `gradient ${i - 1}`;
      assert.is(values.length, cpu[i].length, `${label}: ${what} size`);
      const error = relativeError(values, cpu[i]);
      assert.ok(error < MAX_RELATIVE_ERROR, `${label}: ${what} differs from cpu by ${error.toExponential(2)}`);
    });
  } finally {
    await tf.setBackend('wasm');
  }
}

const CONV_KERNELS = [tf.Conv2D, tf.Conv2DBackpropInput, tf.Conv2DBackpropFilter];

// [batch, height, width, in], [kh, kw, in, out], stride, padding: odd sizes, batch 1,
// strides 1-3 (different per axis too), same/valid/explicit padding, 1x1 and non-square filters.
const CONVS: { x: number[]; filter: number[]; strides: number | [number, number]; pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] }[] = [
  { x: [2, 9, 9, 3], filter: [3, 3, 3, 5], strides: 1, pad: 'same' },
  { x: [1, 7, 11, 4], filter: [3, 3, 4, 6], strides: 2, pad: 'same' },
  { x: [3, 8, 8, 2], filter: [3, 3, 2, 4], strides: 2, pad: 'same' },
  { x: [2, 10, 7, 3], filter: [2, 3, 3, 2], strides: [2, 1], pad: 'valid' },
  { x: [1, 13, 13, 5], filter: [5, 5, 5, 3], strides: 3, pad: 'same' },
  { x: [2, 6, 6, 8], filter: [1, 1, 8, 1], strides: 1, pad: 'same' },
  { x: [1, 28, 28, 1], filter: [3, 3, 1, 8], strides: 1, pad: 'same' },
  { x: [2, 9, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { x: [4, 7, 7, 32], filter: [3, 3, 32, 16], strides: 1, pad: 'valid' },
];

for (const c of CONVS) {
  const label = `conv x ${c.x.join('x')}, filter ${c.filter.join('x')}, strides ${c.strides}, pad ${JSON.stringify(c.pad)}`;
  test(`${label}: output, dx and dW equal the cpu backend's`, async () => {
    const f: Differentiable = (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad);
    await checkAgainstCpu(label, f, [c.x, c.filter], CONV_KERNELS);
  });
}

test('a dilated conv equals the cpu backend (forward; tfjs has no gradient for dilations)', async () => {
  const x = randomHost([2, 11, 10, 3]);
  const w = randomHost([3, 3, 3, 4]);
  const f = () => tf.conv2d(tf.tensor4d(x.values, x.shape as Shape4D), tf.tensor4d(w.values, w.shape as Shape4D), 1, 'same', 'NHWC', 2);
  const before = calls(tf.Conv2D);
  const native = tf.tidy(() => f().dataSync() as Float32Array);
  assert.ok(calls(tf.Conv2D) > before, 'the dilated conv went to the fallback');
  await tf.setBackend('cpu');
  const cpu = tf.tidy(() => f().dataSync() as Float32Array);
  await tf.setBackend('wasm');
  assert.ok(relativeError(native, cpu) < MAX_RELATIVE_ERROR);
});

// [a shape], [b shape], transposeA, transposeB: every transpose, rank 2 to 4, a batch of one
// matrix shared by broadcast (forward only there: tfjs's own BatchMatMul gradient returns the
// broadcast shape for it, on every backend).
const PRODUCTS: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean; gradients: boolean }[] = [
  { a: [7, 5], b: [5, 3], transposeA: false, transposeB: false, gradients: true },
  { a: [5, 7], b: [5, 3], transposeA: true, transposeB: false, gradients: true },
  { a: [7, 5], b: [3, 5], transposeA: false, transposeB: true, gradients: true },
  { a: [5, 7], b: [3, 5], transposeA: true, transposeB: true, gradients: true },
  { a: [3, 4, 9], b: [3, 9, 6], transposeA: false, transposeB: false, gradients: true },
  { a: [2, 4, 49, 8], b: [2, 4, 49, 8], transposeA: false, transposeB: true, gradients: true },
  { a: [2, 4, 49, 49], b: [2, 4, 49, 8], transposeA: true, transposeB: false, gradients: true },
  { a: [1, 1], b: [1, 1], transposeA: false, transposeB: false, gradients: true },
  { a: [1, 6, 5], b: [4, 5, 3], transposeA: false, transposeB: false, gradients: false },
  { a: [4, 6, 5], b: [3, 5], transposeA: false, transposeB: true, gradients: false },
];

for (const { a, b, transposeA, transposeB, gradients } of PRODUCTS) {
  const label = `matMul ${a.join('x')}${transposeA ? 'ᵀ' : ''} by ${b.join('x')}${transposeB ? 'ᵀ' : ''}`;
  test(`${label}: product${gradients ? ' and both gradients' : ''} equal the cpu backend's`, async () => {
    await checkAgainstCpu(label, (x, y) => tf.matMul(x, y, transposeA, transposeB), [a, b], [tf.BatchMatMul], gradients);
  });
}

// Value counts from one (below a SIMD vector) to 300,000 (split over two threads), values to ±12.
for (const shape of [[1], [7], [3, 5, 5, 8], [2, 28, 28, 24], [300_000]]) {
  test(`GELU of ${shape.join('x')} values and its gradient equal the cpu backend's`, async () => {
    await checkAgainstCpu(`gelu ${shape.join('x')}`, (x) => gelu(x.mul(4)), [shape], ['XpGelu', 'XpGeluGrad']);
  });
}

// GroupNorm(1) over whole examples (batch 1 too, and enough values for two threads), LayerNorm
// over each position's channels, odd channel counts; inputs shifted off zero, as activations are.
const NORMALIZATIONS: { x: number[]; groupSize: (shape: number[]) => number }[] = [
  { x: [1, 5, 5, 3], groupSize: ([, h, w, c]) => h * w * c },
  { x: [4, 28, 28, 24], groupSize: ([, h, w, c]) => h * w * c },
  { x: [3, 7, 7, 5], groupSize: ([, h, w, c]) => h * w * c },
  { x: [2, 49, 64], groupSize: (shape) => shape.at(-1)! },
  { x: [6, 7], groupSize: (shape) => shape.at(-1)! },
];

for (const { x, groupSize } of NORMALIZATIONS) {
  const size = groupSize(x);
  const label = `normalization of ${x.join('x')} in groups of ${size}`;
  test(`${label} and its gradients (x, gamma, beta) equal the cpu backend's`, async () => {
    const channels = x.at(-1)!;
    const f: Differentiable = (v, gamma, beta) => normalize(v.add(3), gamma as tf.Tensor1D, beta as tf.Tensor1D, size, 1e-5);
    await checkAgainstCpu(label, f, [x, [channels], [channels]], ['XpNormalize', 'XpNormalizeGrad']);
  });
}

// The broadcasts a UNet makes (same shape, a bias, a per-example vector over positions, a
// scalar, either operand the smaller one); their gradients reduce over the broadcast axes.
const BINARIES: { a: number[]; b: number[] }[] = [
  { a: [3, 5, 7], b: [3, 5, 7] },
  { a: [12, 16], b: [16] },
  { a: [4, 6, 6, 8], b: [4, 1, 1, 8] },
  { a: [2, 1, 1, 3], b: [2, 5, 4, 3] },
  { a: [2, 4, 9, 9], b: [] },
  { a: [1], b: [300_000] },
];

for (const { a, b } of BINARIES) {
  for (const [name, op] of [[tf.Add, tf.add], [tf.Multiply, tf.mul]] as const) {
    const label = `${name} of ${a.join('x') || 'scalar'} and ${b.join('x') || 'scalar'}`;
    test(`${label} and its gradients equal the cpu backend's`, async () => {
      await checkAgainstCpu(label, (x, y) => op(x, y), [a, b], [name]);
    });
  }
}

test('a broadcast the addon does not take ([4, 1] with [1, 5]) goes to the wasm kernel, and is right', async () => {
  const before = calls(tf.Add);
  const f = () => tf.tidy(() => Array.from(tf.add(tf.tensor2d([1, 2, 3, 4], [4, 1]), tf.tensor2d([10, 20, 30, 40, 50], [1, 5])).dataSync()));
  const values = f();
  assert.is(calls(tf.Add), before, 'the addon took a two-sided broadcast');
  assert.equal(values.slice(0, 6), [11, 21, 31, 41, 51, 12]);
});

for (const shape of [[2, 4, 49, 49], [3, 1], [5, 7]]) {
  test(`softmax over the last axis of ${shape.join('x')} and its gradient equal the cpu backend's`, async () => {
    await checkAgainstCpu(`softmax ${shape.join('x')}`, (x) => tf.softmax(x.mul(3)), [shape], [tf.Softmax]);
  });
}

test('a broadcast of one value per run ([2, 4, 9, 1] by [2, 4, 9, 9], softmax\'s gradient) is computed natively, and right', async () => {
  await checkAgainstCpu('multiply of 2x4x9x1 and 2x4x9x9', (x, y) => tf.mul(x, y), [[2, 4, 9, 1], [2, 4, 9, 9]], [tf.Multiply]);
});

// Sums over adjacent axes: a bias's gradient (leading), per example (middle), rows (trailing),
// everything, kept dimensions; their gradients broadcast back.
const SUMS: { x: number[]; axis: number | number[]; keepDims: boolean }[] = [
  { x: [49, 64], axis: 0, keepDims: false },
  { x: [3, 7, 5, 6], axis: [0, 1, 2], keepDims: false },
  { x: [3, 7, 5, 6], axis: [2, 1], keepDims: false },
  { x: [2, 4, 9, 9], axis: -1, keepDims: true },
  { x: [300_000], axis: 0, keepDims: false },
  { x: [5, 3], axis: [0, 1], keepDims: true },
];

for (const { x, axis, keepDims } of SUMS) {
  const label = `sum of ${x.join('x')} over ${JSON.stringify(axis)}${keepDims ? ', dimensions kept' : ''}`;
  test(`${label} and its gradient equal the cpu backend's`, async () => {
    await checkAgainstCpu(label, (v) => tf.sum(v, axis, keepDims), [x], [tf.Sum]);
  });
}

test('a sum over axes that are not adjacent goes to the wasm kernel, and is right', () => {
  const before = calls(tf.Sum);
  const values = tf.tidy(() => Array.from(tf.sum(tf.range(0, 24).reshape([2, 3, 4]), [0, 2]).dataSync()));
  assert.is(calls(tf.Sum), before, 'the addon took a sum over axes 0 and 2');
  // Row j of the 3 sums 0-3 + 12-15 shifted by 4j.
  assert.equal(values, [60, 92, 124]);
});

// Max pooling's gradient: the UNet's 2x2/2, odd sizes, overlapping windows, 'same' padding.
const POOLS: { x: number[]; filter: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' }[] = [
  { x: [2, 28, 28, 8], filter: 2, strides: 2, pad: 'valid' },
  { x: [1, 7, 9, 3], filter: 2, strides: 2, pad: 'valid' },
  { x: [2, 9, 9, 4], filter: 3, strides: 2, pad: 'same' },
  { x: [3, 6, 5, 2], filter: [3, 2], strides: [1, 2], pad: 'same' },
];

for (const { x, filter, strides, pad } of POOLS) {
  const label = `max pooling of ${x.join('x')}, filter ${filter}, strides ${strides}, pad ${pad}`;
  test(`${label}: its gradient equals the cpu backend's`, async () => {
    await checkAgainstCpu(label, (v) => tf.maxPool(v as tf.Tensor4D, filter, strides, pad), [x], [tf.MaxPoolGrad]);
  });
}

test('max pooling of values all below zero routes every window\'s gradient (wasm\'s own kernel drops them)', async () => {
  const f: Differentiable = (v) => tf.maxPool(tf.sub(tf.neg(tf.abs(v)), 1) as tf.Tensor4D, 2, 2, 'valid');
  await checkAgainstCpu('max pooling of negative values', f, [[2, 6, 6, 3]], [tf.MaxPoolGrad]);
});

// Bilinear resizing's gradient: the UNet's doubling with aligned corners, without, shrinking,
// odd sizes, a 1-pixel image. Square images only: tfjs 4.22's cpu backend returns this gradient
// with height and width swapped, which tfjs rejects for any other.
const RESIZES: { x: number[]; size: [number, number]; alignCorners: boolean }[] = [
  { x: [2, 14, 14, 16], size: [28, 28], alignCorners: true },
  { x: [2, 7, 7, 5], size: [14, 14], alignCorners: false },
  { x: [1, 9, 9, 3], size: [4, 4], alignCorners: true },
  { x: [3, 5, 5, 2], size: [11, 11], alignCorners: false },
  { x: [1, 1, 1, 2], size: [3, 3], alignCorners: true },
];

for (const { x, size, alignCorners } of RESIZES) {
  const label = `bilinear resizing of ${x.join('x')} to ${size.join('x')}${alignCorners ? ', corners aligned' : ''}`;
  test(`${label}: its gradient equals the cpu backend's`, async () => {
    await checkAgainstCpu(label, (v) => tf.image.resizeBilinear(v as tf.Tensor4D, size, alignCorners), [x], [tf.ResizeBilinearGrad]);
  });
}

// Concatenations along every axis (the gradient is a split, so SplitV is checked too), odd
// sizes, a batch of one, and the UNet's skip joins (28x28, 8 + 16 channels).
const CONCATS: { shapes: number[][]; axis: number }[] = [
  { shapes: [[3, 5], [3, 2]], axis: 1 },
  { shapes: [[3, 5], [1, 5], [2, 5]], axis: 0 },
  { shapes: [[1, 4, 3, 2], [1, 4, 5, 2]], axis: 2 },
  { shapes: [[2, 3, 3, 7], [2, 3, 3, 1], [2, 3, 3, 4]], axis: -1 },
  { shapes: [[4, 28, 28, 8], [4, 28, 28, 16]], axis: 3 },
];

for (const { shapes, axis } of CONCATS) {
  const label = `concat of ${shapes.map((s) => s.join('x')).join(', ')} along axis ${axis}`;
  test(`${label} and its gradient (a split) equal the cpu backend's`, async () => {
    await checkAgainstCpu(label, (...xs) => tf.concat(xs, axis), shapes, [tf.Concat, tf.SplitV]);
  });
}

const SPLITS: { shape: number[]; sizes: number[]; axis: number }[] = [
  { shape: [6, 4], sizes: [1, -1, 2], axis: 0 },
  { shape: [2, 7, 5], sizes: [3, 4], axis: 1 },
  { shape: [2, 4, 4, 9], sizes: [2, 3, -1], axis: -1 },
  { shape: [5, 49, 192], sizes: [64, 64, 64], axis: 2 },
];

for (const { shape, sizes, axis } of SPLITS) {
  const label = `split of ${shape.join('x')} into ${sizes.join(', ')} along axis ${axis}`;
  test(`${label} and its gradient equal the cpu backend's`, async () => {
    // The pieces rejoined in another order and scaled, so each one's place and value show.
    const f: Differentiable = (x) => {
      const pieces = tf.split(x, sizes, axis);
      return tf.concat(pieces.reverse().map((p, i) => p.mul(i + 1)), axis);
    };
    await checkAgainstCpu(label, f, [shape], [tf.SplitV, tf.Concat]);
  });
}

test('int32 tensors are concatenated and split natively too, exactly', async () => {
  const a = Int32Array.from({ length: 24 }, (_, i) => i * 7 - 50);
  const b = Int32Array.from({ length: 8 }, (_, i) => 1000 + i);
  const f = () => tf.tidy(() => {
    const joined = tf.concat([tf.tensor(a, [4, 3, 2], 'int32'), tf.tensor(b, [4, 1, 2], 'int32')], 1);
    return tf.split(joined, [1, 3], 1).map((piece) => Array.from(piece.dataSync()));
  });
  const before = [tf.Concat, tf.SplitV].map(calls);
  const native = f();
  [tf.Concat, tf.SplitV].forEach((kernel, i) => assert.ok(calls(kernel) > before[i], `${kernel} went to the fallback`));
  await tf.setBackend('cpu');
  const cpu = f();
  await tf.setBackend('wasm');
  assert.equal(native, cpu);
});

test('calls the addon does not take (empty tensors) go to the wasm kernels', () => {
  const before = [tf.BatchMatMul, tf.Conv2D].map(calls);
  assert.equal(tf.tidy(() => tf.matMul(tf.ones([0, 3]), tf.ones([3, 2])).shape), [0, 2]);
  assert.equal(tf.tidy(() => tf.conv2d(tf.ones([0, 5, 5, 2]) as tf.Tensor4D, tf.ones([3, 3, 2, 4]) as tf.Tensor4D, 1, 'same').shape), [0, 5, 5, 4]);
  assert.equal([tf.BatchMatMul, tf.Conv2D].map(calls), before, 'the addon took a call it does not support');
});

test('the native kernels leak no tensors and no wasm memory over training steps', () => {
  const x = tf.randomNormal([2, 8, 8, 3]);
  const w1 = tf.variable(tf.randomNormal([3, 3, 3, 4]));
  const w2 = tf.variable(tf.randomNormal([4, 6]));
  const loss = () => tf.tidy(() => {
    const h = tf.conv2d(x as tf.Tensor4D, w1 as tf.Variable<tf.Rank.R4>, 2, 'same');
    return tf.matMul(tf.reshape(h, [-1, 4]), w2).square().mean() as tf.Scalar;
  });
  const optimizer = tf.train.sgd(0.01);
  const step = () => tf.dispose(optimizer.minimize(loss, true) ?? []);
  step();
  const tensors = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  const dataIds = tf.engine().backend.numDataIds();
  for (let i = 0; i < 3; i++) step();
  assert.is(tf.memory().numTensors, tensors);
  assert.is(tf.memory().numBytes, bytes);
  assert.is(tf.engine().backend.numDataIds(), dataIds);
  tf.dispose([x, w1, w2]);
  optimizer.dispose();
});

test('one thread and two each give the same results run to run', () => {
  // Big enough (115 MFLOP, 200,000 values) that the addon splits the work over two threads when allowed.
  const x = tf.randomNormal([8, 28, 28, 32]);
  const w = tf.randomNormal([3, 3, 32, 32]);
  const gamma = tf.randomNormal([32]);
  const beta = tf.randomNormal([32]);
  const gradients = () => tf.tidy(() => {
    const loss = (filter: tf.Tensor, g: tf.Tensor) => {
      const y = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same');
      return gelu(normalize(y, g as tf.Tensor1D, beta as tf.Tensor1D, 28 * 28 * 32, 1e-5)).square().sum();
    };
    return tf.grads(loss)([w, gamma]).map((t) => Array.from(t.dataSync()));
  });
  try {
    for (const threads of [1, 2]) {
      setNativeThreads(threads);
      assert.equal(gradients(), gradients(), `${threads} thread(s): two runs differ`);
    }
  } finally {
    setNativeThreads(2);
    tf.dispose([x, w, gamma, beta]);
  }
});

test('switched off, the wasm kernels run again; switched on, the native ones', () => {
  const x = tf.randomNormal([1, 5, 5, 2]);
  const w = tf.randomNormal([3, 3, 2, 2]);
  try {
    unregisterNativeKernels();
    const before = calls(tf.Conv2D);
    tf.dispose(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'));
    assert.is(calls(tf.Conv2D), before);
    assert.not.ok(nativeKernelStatus().active);
  } finally {
    assert.ok(registerNativeKernels());
  }
  const before = calls(tf.Conv2D);
  tf.dispose(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'));
  assert.is(calls(tf.Conv2D), before + 1);
  tf.dispose([x, w]);
});

test('xp doctor names the native kernels where built, and the wasm ones with the line that builds them where not', () => {
  const built = xp(['doctor']);
  assert.is(built.code, 0, built.stderr);
  assert.match(built.stdout, /^convolutions: native: oneDNN \d+\.\d+/m);
  assert.match(built.stdout, /^matmul:\s+native: oneDNN/m);

  const absent = xp(['doctor'], undefined, { XP_NATIVE_ADDON: '/nonexistent/xp-onednn.node' });
  assert.is(absent.code, 0, absent.stderr);
  assert.match(absent.stdout, /^backend:\s+wasm$/m);
  assert.match(absent.stdout, /^convolutions: wasm: .*not built; to get them: apt-get install g\+\+ libdnnl-dev && npm run build:native$/m);
  assert.match(absent.stdout, /^matmul:\s+wasm: XNNPACK/m);

  const off = xp(['doctor'], undefined, { XP_NATIVE: 'off' });
  assert.match(off.stdout, /^convolutions: wasm: .*XP_NATIVE=off$/m);

  const badThreads = xp(['doctor'], undefined, { XP_NATIVE_THREADS: 'two' });
  assert.match(badThreads.stdout, /^convolutions: wasm: .*XP_NATIVE_THREADS must be a whole number from 1 to 1024, not 'two'/m);
});

test('without the addon a short training run completes, on the wasm kernels', () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-no-addon-'));
  try {
    const result = xp([
      'run', 'experiments/quickstart.yaml', '--set', 'trainer.max_steps=2', '--set', 'dataset.batch_size=4',
      '--set', 'callbacks.final_samples.n=1', '--runs-dir', runsDir,
    ], undefined, { XP_NATIVE_ADDON: '/nonexistent/xp-onednn.node' });
    assert.is(result.code, 0, result.stderr);
    const [stamp] = fs.readdirSync(path.join(runsDir, 'quickstart'));
    const info = JSON.parse(fs.readFileSync(path.join(runsDir, 'quickstart', stamp, 'run.json'), 'utf8'));
    assert.equal([info.status, info.steps], ['completed', 2]);
  } finally {
    fs.rmSync(runsDir, { recursive: true, force: true });
  }
});

test.run();
