import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { requestedBackend, selectBackend } from '../framework/backend.js';
import {
  displacedWasmKernel,
  filterGradFormulation,
  registerWasmTrainingKernels,
  type FilterGradAttrs,
  type FilterGradFormulation,
} from '../framework/kernels/wasm-kernels.js';
import { unregisterNativeKernels } from '../framework/kernels/native/onednn-kernels.js';
import { randomHost, toTensor, type Differentiable, type HostTensor } from './support/host-tensors.js';
import { backendReady } from './setup.js';

const test = suite('wasm training kernels');

// These kernels only exist on wasm, so the suite runs there whatever CI asked for, without the
// native kernels that sit over them where built, and hands the requested backend back afterwards.
test.before(async () => {
  await backendReady;
  await selectBackend('wasm');
  unregisterNativeKernels();
});
test.after(async () => {
  await selectBackend(requestedBackend());
});


const MAX_RELATIVE_ERROR = 1e-4;

function outputShape(f: Differentiable, inputs: HostTensor[]): number[] {
  return tf.tidy(() => f(...inputs.map(toTensor)).shape);
}

async function gradientsOn(backend: string, f: Differentiable, inputs: HostTensor[], dy: HostTensor): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => tf.grads(f)(inputs.map(toTensor), toTensor(dy)).map((g) => Float32Array.from(g.dataSync())));
}

/** Gradients of `f` at `inputs` for one random upstream gradient, on wasm and on cpu. */
async function wasmAndCpuGradients(f: Differentiable, inputs: HostTensor[]): Promise<{ wasm: Float32Array[]; cpu: Float32Array[] }> {
  const dy = randomHost(outputShape(f, inputs));
  try {
    return { wasm: await gradientsOn('wasm', f, inputs, dy), cpu: await gradientsOn('cpu', f, inputs, dy) };
  } finally {
    await tf.setBackend('wasm');
  }
}

/** Largest absolute difference, relative to the reference's largest absolute value. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

async function assertGradientsMatchCpu(label: string, f: Differentiable, inputs: HostTensor[]): Promise<void> {
  const { wasm, cpu } = await wasmAndCpuGradients(f, inputs);
  cpu.forEach((expected, i) => {
    assert.is(wasm[i].length, expected.length, `${label}: gradient ${i} size`);
    const error = relativeError(wasm[i], expected);
    assert.ok(error < MAX_RELATIVE_ERROR, `${label}: gradient ${i} relative error ${error.toExponential(2)}`);
  });
}

interface ConvCase {
  input: [number, number, number, number];
  kernel: [number, number];
  outChannels: number;
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
}

async function assertConvGradientsMatchCpu(c: ConvCase): Promise<void> {
  const label = JSON.stringify(c);
  const filterShape = [...c.kernel, c.input[3], c.outChannels];
  const conv = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad);
  await assertGradientsMatchCpu(label, conv as Differentiable, [randomHost(c.input), randomHost(filterShape)]);
}

test('conv2d gradients match cpu for strides 1 and 2, same and valid, kernels 1 and 3, odd and even sizes', async () => {
  for (const strides of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) {
      for (const k of [1, 3]) {
        for (const size of [8, 7]) {
          await assertConvGradientsMatchCpu({ input: [2, size, size, 3], kernel: [k, k], outChannels: 4, strides, pad });
        }
      }
    }
  }
});

test('conv2d gradients match cpu for even and non-square kernels, mixed strides and explicit pads', async () => {
  const cases: ConvCase[] = [
    { input: [2, 9, 8, 3], kernel: [2, 2], outChannels: 4, strides: 2, pad: 'same' },
    { input: [2, 9, 8, 3], kernel: [4, 4], outChannels: 2, strides: 2, pad: 'valid' },
    { input: [1, 7, 6, 2], kernel: [3, 1], outChannels: 3, strides: [2, 1], pad: 'same' },
    { input: [2, 6, 6, 2], kernel: [3, 3], outChannels: 3, strides: 1, pad: 1 },
    { input: [2, 5, 6, 2], kernel: [3, 3], outChannels: 3, strides: 2, pad: 4 },
    { input: [2, 6, 5, 2], kernel: [3, 3], outChannels: 3, strides: 1, pad: [[0, 0], [0, 2], [1, 0], [0, 0]] },
  ];
  for (const c of cases) await assertConvGradientsMatchCpu(c);
});

test('conv2d gradients match cpu at the UNet shapes', async () => {
  const cases: ConvCase[] = [
    { input: [2, 28, 28, 8], kernel: [3, 3], outChannels: 16, strides: 1, pad: 'same' },
    { input: [2, 14, 14, 16], kernel: [3, 3], outChannels: 16, strides: 1, pad: 'same' },
    { input: [2, 7, 7, 16], kernel: [3, 3], outChannels: 32, strides: 1, pad: 'same' },
    { input: [2, 28, 28, 16], kernel: [1, 1], outChannels: 1, strides: 1, pad: 'same' },
  ];
  for (const c of cases) await assertConvGradientsMatchCpu(c);
});

/** dW of one call, with `formulation` asked for where given (wasm only); x and dy are freed. */
function filterGrad(x: tf.Tensor, dy: tf.Tensor, c: ConvCase, formulation?: FilterGradFormulation): tf.Tensor {
  const filterShape = [...c.kernel, c.input[3], c.outChannels] as [number, number, number, number];
  const attrs: FilterGradAttrs = { strides: c.strides, pad: c.pad as FilterGradAttrs['pad'], dataFormat: 'NHWC', filterShape, formulation };
  return tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** dW on wasm by `formulation` against the cpu backend's, for one random x and upstream gradient. */
async function assertFilterGradMatchesCpu(c: ConvCase, formulation: FilterGradFormulation): Promise<void> {
  const x = randomHost(c.input);
  const conv = (a: tf.Tensor, w: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad);
  const dy = randomHost(outputShape(conv as Differentiable, [x, randomHost([...c.kernel, c.input[3], c.outChannels])]));
  const on = async (backend: string, asked?: FilterGradFormulation) => {
    await tf.setBackend(backend);
    return tf.tidy(() => Float32Array.from(filterGrad(toTensor(x), toTensor(dy), c, asked).dataSync()));
  };
  try {
    const error = relativeError(await on('wasm', formulation), await on('cpu'));
    assert.ok(error < MAX_RELATIVE_ERROR, `${JSON.stringify(c)} by ${formulation}: relative error ${error}`);
  } finally {
    await tf.setBackend('wasm');
  }
}

const FORMULATION_CASES: ConvCase[] = [
  { input: [2, 8, 8, 1], kernel: [3, 3], outChannels: 4, strides: 1, pad: 'same' },
  { input: [3, 7, 9, 1], kernel: [3, 3], outChannels: 2, strides: 1, pad: 'valid' },
  { input: [2, 9, 7, 3], kernel: [3, 3], outChannels: 5, strides: 2, pad: 'same' },
  { input: [2, 9, 8, 2], kernel: [3, 3], outChannels: 3, strides: 2, pad: 'valid' },
  { input: [2, 9, 8, 3], kernel: [2, 2], outChannels: 4, strides: 1, pad: 'same' },
  { input: [2, 9, 8, 3], kernel: [4, 4], outChannels: 2, strides: 2, pad: 'valid' },
  { input: [1, 7, 6, 2], kernel: [3, 1], outChannels: 3, strides: [2, 1], pad: 'same' },
  { input: [2, 5, 6, 2], kernel: [1, 3], outChannels: 3, strides: 1, pad: 4 },
  { input: [2, 6, 5, 2], kernel: [3, 3], outChannels: 3, strides: 1, pad: [[0, 0], [0, 2], [1, 0], [0, 0]] },
  { input: [2, 7, 7, 4], kernel: [1, 1], outChannels: 3, strides: 1, pad: 'valid' },
];

for (const formulation of ['conv', 'im2col'] as const) {
  test(`dW by ${formulation} matches cpu: Cin 1, odd sizes, strides 1 and 2, valid, even and 1-wide kernels, explicit pads`, async () => {
    for (const c of FORMULATION_CASES) await assertFilterGradMatchesCpu(c, formulation);
  });
}

test('the shape rule picks im2col for a large output grid with many output channels or one input channel, conv elsewhere', async () => {
  const info = (input: [number, number, number, number], outChannels: number, strides: number) =>
    tf.backend_util.computeConv2DInfo(input, [3, 3, input[3], outChannels], strides, 1, 'same');
  assert.is(filterGradFormulation(info([64, 28, 28, 48], 48, 1)), 'im2col');
  assert.is(filterGradFormulation(info([64, 28, 28, 48], 48, 2)), 'conv');
  assert.is(filterGradFormulation(info([64, 28, 28, 1], 16, 1)), 'im2col');
  assert.is(filterGradFormulation(info([64, 28, 28, 1], 8, 1)), 'conv');
  assert.is(filterGradFormulation(info([64, 28, 28, 8], 8, 1)), 'conv');
  assert.is(filterGradFormulation(info([64, 14, 14, 96], 96, 1)), 'conv');
  // Taken by the rule, not forced: a 28x28 conv with 48 output channels goes through im2col.
  await assertConvGradientsMatchCpu({ input: [1, 28, 28, 2], kernel: [3, 3], outChannels: 48, strides: 1, pad: 'same' });
});

test('issue 2: maxPool gradient reaches windows whose values are all negative', async () => {
  // wasm's own MaxPoolGrad starts its search at FLT_MIN and drops these windows.
  const x = randomHost([2, 6, 6, 3]);
  x.values = x.values.map((v) => -Math.abs(v) - 0.1);
  const pool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid');
  await assertGradientsMatchCpu('all-negative maxPool', pool, [x]);
  const overlapping = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 3, 2, 'same');
  await assertGradientsMatchCpu('overlapping same maxPool', overlapping, [randomHost([2, 7, 7, 3])]);
});

/** Conv → GroupNorm(1) → exact GELU → maxPool → bilinear ×2 → concat → LayerNorm → attention → SiLU. */
function tinyUNetPiece(x: tf.Tensor, filter: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, wq: tf.Tensor, wk: tf.Tensor, wv: tf.Tensor): tf.Tensor {
  const h = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same');
  const [batch, height, width] = h.shape;
  const groupStats = tf.moments(h, [1, 2, 3], true);
  const grouped = h.sub(groupStats.mean).mul(tf.rsqrt(groupStats.variance.add(1e-5))).mul(gamma).add(beta);
  const gelu = grouped.mul(0.5).mul(tf.erf(grouped.mul(Math.SQRT1_2)).add(1));
  const pooled = tf.maxPool(gelu as tf.Tensor4D, 2, 2, 'valid');
  const upsampled = tf.image.resizeBilinear(pooled as tf.Tensor4D, [height, width], true);
  const joined = tf.concat([gelu as tf.Tensor4D, upsampled], 3);
  const channels = joined.shape[3];
  const tokens = joined.reshape([batch * height * width, channels]);
  const tokenStats = tf.moments(tokens, -1, true);
  const normed = tokens.sub(tokenStats.mean).div(tf.sqrt(tokenStats.variance.add(1e-5)));
  const project = (w: tf.Tensor) => normed.matMul(w as tf.Tensor2D).reshape([batch, height * width, channels]);
  const scores = tf.matMul(project(wq), project(wk), false, true).div(Math.sqrt(channels));
  const attended = tf.matMul(tf.softmax(scores), project(wv));
  return attended.mul(tf.sigmoid(attended));
}

test('a tiny UNet piece has the same gradients on wasm and cpu', async () => {
  const channels = 4;
  const inputs = [
    randomHost([2, 6, 6, 2]),
    randomHost([3, 3, 2, channels]),
    randomHost([channels]),
    randomHost([channels]),
    ...[0, 1, 2].map(() => randomHost([2 * channels, 2 * channels])),
  ];
  await assertGradientsMatchCpu('tiny UNet piece', tinyUNetPiece as Differentiable, inputs);
});

test('repeated gradients leak no tensors and no wasm buffers, with either dW formulation', async () => {
  const step = (strides: number, pad: 'same' | 'valid', size: number, formulation: FilterGradFormulation) => {
    const x = tf.randomNormal([2, size, size, 3]);
    const w = tf.randomNormal([3, 3, 3, 4]);
    const loss = (a: tf.Tensor, b: tf.Tensor) =>
      tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad), 2, 2, 'same').sum();
    tf.dispose([...tf.grads(loss)([x, w]), x, w]);
    const c: ConvCase = { input: [2, size, size, 3], kernel: [3, 3], outChannels: 4, strides, pad };
    const dy = tf.randomNormal(tf.tidy(() => tf.conv2d(tf.zeros(c.input) as tf.Tensor4D, tf.zeros([3, 3, 3, 4]) as tf.Tensor4D, strides, pad).shape));
    const input = tf.randomNormal(c.input);
    tf.dispose([filterGrad(input, dy, c, formulation), input, dy]);
  };
  for (const formulation of ['conv', 'im2col'] as const) {
    const everyGeometry = () => {
      step(1, 'same', 8, formulation);
      step(2, 'same', 7, formulation);
      step(2, 'valid', 8, formulation);
      step(1, 'valid', 7, formulation);
    };
    everyGeometry();
    const before = tf.memory();
    const buffersBefore = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) everyGeometry();
    const after = tf.memory();
    assert.is(after.numTensors, before.numTensors, `${formulation}: engine tensors`);
    assert.is(after.numDataBuffers, before.numDataBuffers, `${formulation}: engine data buffers`);
    assert.is(after.numBytes, before.numBytes, `${formulation}: engine bytes`);
    assert.is(tf.backend().numDataIds(), buffersBefore, `${formulation}: wasm backend buffers`);
  }
});

async function valuesOn(backend: string, f: Differentiable, inputs: HostTensor[]): Promise<Float32Array> {
  await tf.setBackend(backend);
  return tf.tidy(() => Float32Array.from(f(...inputs.map(toTensor)).dataSync()));
}

test('matMul with transposes, batches and size-1 batch broadcasts matches cpu, in products small enough for the SIMD loop and not', async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[2, 40, 48], [2, 48, 40], false, false],
    [[1, 48, 40], [2, 48, 40], true, false],
    [[5, 4], [4, 6], false, false],
    [[4, 5], [6, 4], true, true],
    [[3, 5, 4], [3, 4, 6], false, false],
    [[3, 5, 4], [1, 6, 4], false, true],
    [[1, 4, 5], [3, 4, 6], true, false],
    [[2, 3, 5, 4], [2, 3, 6, 4], false, true],
  ];
  for (const [aShape, bShape, transposeA, transposeB] of cases) {
    const label = `matMul ${aShape} x ${bShape} ${transposeA} ${transposeB}`;
    const product = ((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b, transposeA, transposeB)) as Differentiable;
    const inputs = [randomHost(aShape), randomHost(bShape)];
    const [wasm, cpu] = [await valuesOn('wasm', product, inputs), await valuesOn('cpu', product, inputs)];
    await tf.setBackend('wasm');
    assert.ok(relativeError(wasm, cpu) < MAX_RELATIVE_ERROR, label);
    // tfjs-core cannot differentiate a broadcast batch (cpu fails too), so only equal batches.
    if (aShape.slice(0, -2).join() === bShape.slice(0, -2).join()) await assertGradientsMatchCpu(label, product, inputs);
  }
});

test('Identity and same-dtype Cast share memory safely; a real cast still converts', () => {
  const buffersBefore = tf.backend().numDataIds();
  const x = tf.tensor([1.5, -2, 3]);
  const copies = [x.clone(), tf.cast(x, 'float32')];
  x.dispose();
  for (const copy of copies) assert.equal(Array.from(copy.dataSync()), [1.5, -2, 3]);
  const converted = tf.cast(copies[0], 'int32');
  assert.is(converted.dtype, 'int32');
  assert.equal(Array.from(converted.dataSync()), [1, -2, 3]);
  tf.dispose([...copies, converted]);
  assert.is(tf.backend().numDataIds(), buffersBefore);
});

test('registering again keeps the new kernels and remembers the one wasm shipped', () => {
  const ours = tf.getKernel(tf.Conv2DBackpropInput, 'wasm').kernelFunc;
  registerWasmTrainingKernels();
  assert.is(tf.getKernel(tf.Conv2DBackpropInput, 'wasm').kernelFunc, ours);
  assert.ok(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm'), 'Conv2DBackpropFilter is registered');
  const shipped = displacedWasmKernel(tf.Conv2DBackpropInput);
  assert.ok(shipped && shipped.kernelFunc !== ours, 'the shipped Conv2DBackpropInput is kept');
  assert.is(displacedWasmKernel(tf.Conv2DBackpropFilter), undefined);
});

test.run();
