/**
 * GELU and normalization as single kernels with hand-written gradients, and Adam's and the
 * weight EMA's updates as one kernel per variable, on the backends whose tensors live in
 * JavaScript-reachable memory (wasm's heap, cpu's arrays).
 *
 * Why: written as tf ops, the exact GELU is 5 kernels forward and ~10 in its gradient, and a
 * normalization over moments ~8 and ~15, each a full pass over the activations (on wasm ~35%
 * of a quick-start training step); tfjs's Adam runs ~12 kernels per variable. One loop each
 * way computes the same function (Φ to within 5e-8, statistics accumulated in double
 * precision). On wasm, they run as SIMD loops (framework/kernels/simd/) where the shapes allow,
 * 2-12x faster than these JavaScript loops, which remain for the other shapes and for the cpu
 * backend. Other backends (tfjs-node, WebGL) compose the same math from tf ops, which they run
 * fast already.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapOffset, simdKernelsOf, type SimdKernels } from './simd/index.js';

export const GELU = 'XpGelu';
export const GELU_GRAD = 'XpGeluGrad';
export const NORMALIZE = 'XpNormalize';
export const NORMALIZE_GRAD = 'XpNormalizeGrad';
const ADAM = 'XpAdam';
const AVERAGE = 'XpMovingAverage';

/** Exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)), as torch.nn.GELU's default (not the tanh approximation). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return hasFusedKernels() ? (tf.engine().runKernel(GELU, { x }) as T) : geluFromOps(x);
}

/** `gelu` from tf ops, as backends without the fused kernel run it. */
export function geluFromOps<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/**
 * (x − mean)/√(var + ε)·gamma + beta: mean and biased variance over each run of `groupSize`
 * consecutive values of x (row-major), gamma and beta per channel (the last axis). A group is a
 * whole example for GroupNorm(1) in NHWC, one position's channels for LayerNorm.
 */
export function normalize<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, groupSize: number, epsilon: number): T {
  if (x.size % groupSize !== 0) throw new Error(`normalize: ${x.size} values do not split into groups of ${groupSize}`);
  if (!hasFusedKernels()) return normalizeFromOps(x, gamma, beta, groupSize, epsilon);
  // The kernel also outputs each group's mean and 1/σ for its gradient, which keeps its own reference.
  const [y, statistics] = tf.engine().runKernel(NORMALIZE, { x, gamma, beta }, { groupSize, epsilon }) as unknown as [T, tf.Tensor];
  statistics.dispose();
  return y;
}

/** `normalize` from tf ops, as backends without the fused kernel run it. */
export function normalizeFromOps<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, groupSize: number, epsilon: number): T {
  const groups = tf.reshape(x, [-1, groupSize]);
  const { mean, variance } = tf.moments(groups, 1, true);
  const normalized = tf.reshape(tf.mul(tf.sub(groups, mean), tf.rsqrt(tf.add(variance, epsilon))), x.shape);
  return tf.add(tf.mul(normalized, gamma), beta) as T;
}

export interface AdamStep {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 − beta1^k and 1 − beta2^k at step k (1-based): the moments' bias corrections. */
  correction1: number;
  correction2: number;
}

/**
 * One Adam update of a variable, as torch.optim.Adam and tfjs's AdamOptimizer compute it:
 * m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², value ← value − lr·(m/c1)/(√(v/c2) + ε).
 * Returns the new [value, m, v]; null where the backend has no fused kernels.
 */
export function adamStep(value: tf.Tensor, m: tf.Tensor, v: tf.Tensor, gradient: tf.Tensor, step: AdamStep): tf.Tensor[] | null {
  if (!hasFusedKernels()) return null;
  return tf.engine().runKernel(ADAM, { value, m, v, gradient }, { ...step }) as unknown as tf.Tensor[];
}

/** β·average + (1 − β)·value (an EMA of weights): one pass where the backend has the fused kernel, three tf ops elsewhere. */
export function movingAverageStep(average: tf.Tensor, value: tf.Tensor, beta: number): tf.Tensor {
  if (!hasFusedKernels()) return tf.tidy(() => tf.add(tf.mul(average, beta), tf.mul(value, 1 - beta)));
  return tf.engine().runKernel(AVERAGE, { average, value }, { beta }) as tf.Tensor;
}

export function hasFusedKernels(): boolean {
  return tf.getKernel(GELU, tf.getBackend()) !== undefined;
}

// ---- the arithmetic, on plain arrays ----

/**
 * Φ (the standard normal CDF) and φ (its density) tabulated on [−8, 8] at steps of 1/1024 and
 * interpolated linearly: absolute error < 5e-8 (float32 rounds 1 to 6e-8), and a lookup is ~5x
 * faster than exp and erf per value in V8. Φ is φ's integral by Simpson's rule from Φ(0) = ½.
 */
const TABLE_RANGE = 8;
const STEPS_PER_UNIT = 1024;
const TABLE_SIZE = 2 * TABLE_RANGE * STEPS_PER_UNIT + 1;
const { density: DENSITY, cdf: CDF } = tabulateNormal();

function tabulateNormal(): { density: Float64Array; cdf: Float64Array } {
  const phi = (t: number) => Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
  const h = 1 / STEPS_PER_UNIT;
  const zero = TABLE_RANGE * STEPS_PER_UNIT;
  const at = (i: number) => (i - zero) * h;
  const simpson = (a: number) => (h / 6) * (phi(a) + 4 * phi(a + h / 2) + phi(a + h));
  const density = Float64Array.from({ length: TABLE_SIZE }, (_, i) => phi(at(i)));
  const cdf = new Float64Array(TABLE_SIZE);
  cdf[zero] = 0.5;
  for (let i = zero; i < TABLE_SIZE - 1; i++) cdf[i + 1] = cdf[i] + simpson(at(i));
  for (let i = zero; i > 0; i--) cdf[i - 1] = cdf[i] - simpson(at(i - 1));
  return { density, cdf };
}

/** table(v) by linear interpolation; `below` and `above` outside [−8, 8]. */
function lookup(table: Float64Array, v: number, below: number, above: number): number {
  const s = (v + TABLE_RANGE) * STEPS_PER_UNIT;
  if (!(s > 0)) return below;
  if (s >= TABLE_SIZE - 1) return above;
  const i = s | 0;
  return table[i] + (s - i) * (table[i + 1] - table[i]);
}

function geluInto([out]: Float32Array[], [x]: Float32Array[]): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i] * lookup(CDF, x[i], 0, 1);
}

/** d/dx x·Φ(x) = Φ(x) + x·φ(x). */
function geluGradInto([dx]: Float32Array[], [x, dy]: Float32Array[]): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    dx[i] = dy[i] * (lookup(CDF, v, 0, 1) + v * lookup(DENSITY, v, 0, 0));
  }
}

/**
 * Mean and 1/√(var + ε) of x[start, start + size), in one pass: sums of x − K and (x − K)² with
 * K = x[start], a shift that keeps E[(x−K)²] − E[x−K]² from cancelling when |mean| ≫ σ.
 */
function groupStatistics(x: Float32Array, start: number, size: number, epsilon: number): [number, number] {
  const shift = x[start];
  let sum = 0;
  let squares = 0;
  for (let i = start; i < start + size; i++) {
    const d = x[i] - shift;
    sum += d;
    squares += d * d;
  }
  const mean = sum / size;
  return [shift + mean, 1 / Math.sqrt(Math.max(0, squares / size - mean * mean) + epsilon)];
}

/** y = x̂·gamma + beta; `statistics` gets each group's mean and 1/σ for the gradient. */
function normalizeInto(
  [out, statistics]: Float32Array[], [x, gamma, beta]: Float32Array[], groupSize: number, epsilon: number,
): void {
  const channels = gamma.length;
  for (let group = 0, start = 0; start < x.length; group++, start += groupSize) {
    const [mean, invStd] = groupStatistics(x, start, groupSize, epsilon);
    statistics[2 * group] = mean;
    statistics[2 * group + 1] = invStd;
    // Position by position, channel by channel: no per-value modulo to find the channel.
    for (let position = start; position < start + groupSize; position += channels) {
      for (let c = 0, i = position; c < channels; c++, i++) out[i] = (x[i] - mean) * invStd * gamma[c] + beta[c];
    }
  }
}

/**
 * With x̂ the normalized x and g = dy·gamma: dx = (g − mean(g) − x̂·mean(g·x̂))/σ per group;
 * dgamma = Σ dy·x̂ and dbeta = Σ dy per channel.
 */
function normalizeGradInto([dx, dGamma, dBeta]: Float32Array[], [x, gamma, dy, statistics]: Float32Array[], groupSize: number): void {
  const channels = gamma.length;
  dGamma.fill(0);
  dBeta.fill(0);
  for (let group = 0, start = 0; start < x.length; group++, start += groupSize) {
    const mean = statistics[2 * group];
    const invStd = statistics[2 * group + 1];
    let gSum = 0;
    let gDotNormalized = 0;
    for (let position = start; position < start + groupSize; position += channels) {
      for (let c = 0, i = position; c < channels; c++, i++) {
        const normalized = (x[i] - mean) * invStd;
        const g = dy[i] * gamma[c];
        gSum += g;
        gDotNormalized += g * normalized;
        dGamma[c] += dy[i] * normalized;
        dBeta[c] += dy[i];
      }
    }
    const gMean = gSum / groupSize;
    const projection = gDotNormalized / groupSize;
    for (let position = start; position < start + groupSize; position += channels) {
      for (let c = 0, i = position; c < channels; c++, i++) {
        dx[i] = (dy[i] * gamma[c] - gMean - (x[i] - mean) * invStd * projection) * invStd;
      }
    }
  }
}

function adamInto(
  [newValue, newM, newV]: Float32Array[], [value, m, v, g]: Float32Array[],
  { learningRate, beta1, beta2, epsilon, correction1, correction2 }: AdamStep,
): void {
  for (let i = 0; i < value.length; i++) {
    const first = beta1 * m[i] + (1 - beta1) * g[i];
    const second = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    newM[i] = first;
    newV[i] = second;
    newValue[i] = value[i] - (learningRate * first) / correction1 / (Math.sqrt(second / correction2) + epsilon);
  }
}

function movingAverageInto([out]: Float32Array[], [average, value]: Float32Array[], beta: number): void {
  for (let i = 0; i < out.length; i++) out[i] = beta * average[i] + (1 - beta) * value[i];
}

// ---- kernels: the same loops over each backend's memory ----

/**
 * Output tensors of `shapes`, filled from the float32 contents of `inputs` by `fill`, or on the
 * wasm backend by `simd` where given (and framework/kernels/simd's kernels are built).
 */
type ArrayKernel = (backend: tf.KernelBackend, inputs: tf.TensorInfo[], shapes: number[][], fill: Fill, simd?: SimdFill) => tf.TensorInfo[];
type Fill = (outs: Float32Array[], ins: Float32Array[]) => void;
/** Like Fill, on the wasm heap: byte offsets of the outputs and inputs. */
type SimdFill = (kernels: SimdKernels, outs: number[], ins: number[]) => void;

const wasmKernel: ArrayKernel = (backend, inputs, shapes, fill, simd) => {
  const wasm = backend as BackendWasm;
  const outs = shapes.map((shape) => wasm.makeOutput(shape, 'float32'));
  const kernels = simd && simdKernelsOf(wasm);
  if (kernels) {
    const offsets = (ts: tf.TensorInfo[]) => ts.map((t) => heapOffset(wasm, t));
    simd(kernels, offsets(outs), offsets(inputs));
    return outs;
  }
  // Views are taken after allocating: growing the heap detaches older ones.
  const view = (t: tf.TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array;
  fill(outs.map(view), inputs.map(view));
  return outs;
};

const cpuKernel: ArrayKernel = (backend, inputs, shapes, fill) => {
  const outs = shapes.map((shape) => new Float32Array(tf.util.sizeFromShape(shape)));
  fill(outs, inputs.map((t) => backend.readSync(t.dataId) as Float32Array));
  const cpu = backend as unknown as { makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo };
  return outs.map((values, i) => cpu.makeTensorInfo(shapes[i], 'float32', values));
};

const KERNELS_BY_BACKEND: Record<string, ArrayKernel> = { wasm: wasmKernel, cpu: cpuKernel };

type Attrs = Record<string, number>;

interface FusedKernel {
  /** Input names, in the order `fill` takes them. */
  inputs: string[];
  /** Output shapes from input shapes; by default one output shaped as the first input. */
  outputs?: (shapes: number[][], attrs: Attrs) => number[][];
  fill: (outs: Float32Array[], ins: Float32Array[], attrs: Attrs) => void;
  /** The same on the wasm heap with framework/kernels/simd's kernels, for the input shapes `fits` accepts. */
  simd?: {
    fits: (shapes: number[][]) => boolean;
    run: (kernels: SimdKernels, outs: number[], ins: number[], shapes: number[][], attrs: Attrs) => void;
  };
}

/** The elementwise SIMD kernels need one whole vector (4 values). */
const vectorsFit = ([shape]: number[][]) => tf.util.sizeFromShape(shape) >= 4;
/** The normalization's SIMD kernels go 4 channels at a time. */
const channelsFit = ([x, gamma]: number[][]) => gamma[0] % 4 === 0 && tf.util.sizeFromShape(x) > 0;

const FUSED_KERNELS: Record<string, FusedKernel> = {
  [GELU]: {
    inputs: ['x'],
    fill: geluInto,
    simd: { fits: vectorsFit, run: (k, [out], [x], [shape]) => k.gelu(x, out, tf.util.sizeFromShape(shape)) },
  },
  [GELU_GRAD]: {
    inputs: ['x', 'dy'],
    fill: geluGradInto,
    simd: { fits: vectorsFit, run: (k, [dx], [x, dy], [shape]) => k.geluGrad(x, dy, dx, tf.util.sizeFromShape(shape)) },
  },
  [NORMALIZE]: {
    inputs: ['x', 'gamma', 'beta'],
    outputs: ([x], { groupSize }) => [x, [2 * (tf.util.sizeFromShape(x) / groupSize)]],
    fill: (outs, ins, { groupSize, epsilon }) => normalizeInto(outs, ins, groupSize, epsilon),
    simd: {
      fits: channelsFit,
      run: (k, [out, statistics], [x, gamma, beta], [xShape, [channels]], { groupSize, epsilon }) =>
        k.normalize(x, gamma, beta, out, statistics, tf.util.sizeFromShape(xShape), groupSize, channels, epsilon),
    },
  },
  [NORMALIZE_GRAD]: {
    inputs: ['x', 'gamma', 'dy', 'statistics'],
    outputs: ([x, gamma]) => [x, gamma, gamma],
    fill: (outs, ins, { groupSize }) => normalizeGradInto(outs, ins, groupSize),
    simd: {
      fits: channelsFit,
      run: (k, [dx, dGamma, dBeta], [x, gamma, dy, statistics], [xShape, [channels]], { groupSize }) =>
        k.normalizeGrad(x, gamma, dy, statistics, dx, dGamma, dBeta, tf.util.sizeFromShape(xShape), groupSize, channels),
    },
  },
  [AVERAGE]: {
    inputs: ['average', 'value'],
    fill: (outs, ins, { beta }) => movingAverageInto(outs, ins, beta),
    simd: { fits: vectorsFit, run: (k, [out], [average, value], [shape], { beta }) => k.movingAverage(average, value, out, tf.util.sizeFromShape(shape), beta) },
  },
  [ADAM]: {
    inputs: ['value', 'm', 'v', 'gradient'],
    outputs: ([value]) => [value, value, value],
    fill: (outs, ins, attrs) => adamInto(outs, ins, attrs as unknown as AdamStep),
    simd: {
      fits: vectorsFit,
      run: (k, [newValue, newM, newV], [value, m, v, g], [shape], a) => k.adam(value, m, v, g, newValue, newM, newV,
        tf.util.sizeFromShape(shape), a.learningRate, a.beta1, a.beta2, a.epsilon, a.correction1, a.correction2),
    },
  },
};

const sameAsFirstInput = (shapes: number[][]) => [shapes[0]];

function kernelConfigs(backendName: string, run: ArrayKernel): tf.KernelConfig[] {
  return Object.entries(FUSED_KERNELS).map(([kernelName, { inputs: names, outputs = sameAsFirstInput, fill, simd }]) => ({
    kernelName,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const ins = names.map((name) => inputs[name]!);
      const inShapes = ins.map((t) => t.shape);
      const shapes = outputs(inShapes, attrs as Attrs);
      const simdFill: SimdFill | undefined = simd?.fits(inShapes) ? (k, o, i) => simd.run(k, o, i, inShapes, attrs as Attrs) : undefined;
      const outs = run(backend as tf.KernelBackend, ins, shapes, (o, i) => fill(o, i, attrs as Attrs), simdFill);
      return outs.length === 1 ? outs[0] : outs;
    },
  }));
}

let gradientsRegistered = false;

function registerGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  tf.registerGradient({
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.engine().runKernel(GELU_GRAD, { x, dy: dy as tf.Tensor }) as tf.Tensor }),
  });
  tf.registerGradient({
    kernelName: NORMALIZE,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true],
    gradFunc: (dy, [x, gamma, statistics], attrs) => {
      const [dx, dGamma, dBeta] = tf.engine().runKernel(
        NORMALIZE_GRAD, { x, gamma, statistics, dy: (dy as tf.Tensor[])[0] }, attrs) as unknown as tf.Tensor[];
      return { x: () => dx, gamma: () => dGamma, beta: () => dBeta };
    },
  });
}

/** Registers the fused kernels for `backendName` if its memory is reachable (wasm, cpu); safe to repeat. */
export function registerFusedKernels(backendName: string): void {
  const run = KERNELS_BY_BACKEND[backendName];
  if (!run || tf.getKernel(GELU, backendName)) return;
  registerGradients();
  for (const config of kernelConfigs(backendName, run)) tf.registerKernel(config);
}
