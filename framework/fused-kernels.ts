/**
 * GELU and normalization as single kernels with hand-written gradients, and Adam's update as
 * one kernel per variable, on the backends whose tensors live in JavaScript-reachable memory
 * (wasm's heap, cpu's arrays).
 *
 * Why: written as tf ops, the exact GELU is 5 kernels forward and ~10 in its gradient, and a
 * normalization over moments ~8 and ~15, each a full pass over the activations; on wasm that
 * was ~35% of a quick-start training step, and tfjs's Adam runs ~12 kernels per variable. One loop each way computes the same function (Φ
 * to within 5e-8, statistics accumulated in double precision). Other backends (tfjs-node,
 * WebGL) compose the same math from tf ops, which they run fast already.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const GELU = 'XpGelu';
const GELU_GRAD = 'XpGeluGrad';
const NORMALIZE = 'XpNormalize';
const NORMALIZE_GRAD = 'XpNormalizeGrad';
const ADAM = 'XpAdam';

/** Exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)), as torch.nn.GELU's default (not the tanh approximation). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return hasFusedKernels() ? (tf.engine().runKernel(GELU, { x }) as T) : geluFromOps(x);
}

/** `gelu` from tf ops, as backends without the fused kernel run it. */
export function geluFromOps<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/**
 * (x − mean)/√(var + ε) over each run of `groupSize` consecutive values of x (row-major), with
 * the biased variance: a whole example for GroupNorm(1) in NHWC, one position's channels for
 * LayerNorm.
 */
export function normalize<T extends tf.Tensor>(x: T, groupSize: number, epsilon: number): T {
  if (x.size % groupSize !== 0) throw new Error(`normalize: ${x.size} values do not split into groups of ${groupSize}`);
  return hasFusedKernels()
    ? (tf.engine().runKernel(NORMALIZE, { x }, { groupSize, epsilon }) as T)
    : normalizeFromOps(x, groupSize, epsilon);
}

/** `normalize` from tf ops, as backends without the fused kernel run it. */
export function normalizeFromOps<T extends tf.Tensor>(x: T, groupSize: number, epsilon: number): T {
  const groups = tf.reshape(x, [-1, groupSize]);
  const { mean, variance } = tf.moments(groups, 1, true);
  return tf.reshape(tf.mul(tf.sub(groups, mean), tf.rsqrt(tf.add(variance, epsilon))), x.shape) as T;
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

function geluInto(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i] * lookup(CDF, x[i], 0, 1);
}

/** d/dx x·Φ(x) = Φ(x) + x·φ(x). */
function geluGradInto(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    dx[i] = dy[i] * (lookup(CDF, v, 0, 1) + v * lookup(DENSITY, v, 0, 0));
  }
}

/** Mean and 1/√(var + ε) of x[start, start + size). */
function groupStatistics(x: Float32Array, start: number, size: number, epsilon: number): [number, number] {
  let sum = 0;
  for (let i = start; i < start + size; i++) sum += x[i];
  const mean = sum / size;
  let squares = 0;
  for (let i = start; i < start + size; i++) squares += (x[i] - mean) * (x[i] - mean);
  return [mean, 1 / Math.sqrt(squares / size + epsilon)];
}

function normalizeInto(x: Float32Array, out: Float32Array, groupSize: number, epsilon: number): void {
  for (let start = 0; start < x.length; start += groupSize) {
    const [mean, invStd] = groupStatistics(x, start, groupSize, epsilon);
    for (let i = start; i < start + groupSize; i++) out[i] = (x[i] - mean) * invStd;
  }
}

/** dx = (dy − mean(dy) − x̂·mean(dy·x̂))/σ per group, x̂ the normalized x. */
function normalizeGradInto(dy: Float32Array, x: Float32Array, dx: Float32Array, groupSize: number, epsilon: number): void {
  for (let start = 0; start < x.length; start += groupSize) {
    const [mean, invStd] = groupStatistics(x, start, groupSize, epsilon);
    let dySum = 0;
    let dyDotNormalized = 0;
    for (let i = start; i < start + groupSize; i++) {
      dySum += dy[i];
      dyDotNormalized += dy[i] * (x[i] - mean) * invStd;
    }
    const dyMean = dySum / groupSize;
    const projection = dyDotNormalized / groupSize;
    for (let i = start; i < start + groupSize; i++) {
      dx[i] = (dy[i] - dyMean - (x[i] - mean) * invStd * projection) * invStd;
    }
  }
}

function adamInto(
  [value, m, v, g]: Float32Array[], [newValue, newM, newV]: Float32Array[],
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

// ---- kernels: the same loops over each backend's memory ----

/** `outputs` tensors of the first input's shape, filled by `fill` from the float32 contents of `inputs`. */
type ArrayKernel = (backend: tf.KernelBackend, inputs: tf.TensorInfo[], outputs: number, fill: Fill) => tf.TensorInfo[];
type Fill = (outs: Float32Array[], ins: Float32Array[]) => void;

const wasmKernel: ArrayKernel = (backend, inputs, outputs, fill) => {
  const wasm = backend as BackendWasm;
  const outs = Array.from({ length: outputs }, () => wasm.makeOutput(inputs[0].shape, 'float32'));
  // Views are taken after allocating: growing the heap detaches older ones.
  const view = (t: tf.TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array;
  fill(outs.map(view), inputs.map(view));
  return outs;
};

const cpuKernel: ArrayKernel = (backend, inputs, outputs, fill) => {
  const outs = Array.from({ length: outputs }, () => new Float32Array(tf.util.sizeFromShape(inputs[0].shape)));
  fill(outs, inputs.map((t) => backend.readSync(t.dataId) as Float32Array));
  const cpu = backend as unknown as { makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo };
  return outs.map((values) => cpu.makeTensorInfo(inputs[0].shape, 'float32', values));
};

const KERNELS_BY_BACKEND: Record<string, ArrayKernel> = { wasm: wasmKernel, cpu: cpuKernel };

type Attrs = Record<string, number>;
const normalization = (attrs: Attrs) => [attrs.groupSize, attrs.epsilon] as const;

/** Each fused kernel: its inputs by name in the order `fill` takes them, and its number of outputs. */
const FILLS: Record<string, { inputs: string[]; outputs: number; fill: (attrs: Attrs, outs: Float32Array[], ins: Float32Array[]) => void }> = {
  [GELU]: { inputs: ['x'], outputs: 1, fill: (_, [out], [x]) => geluInto(x, out) },
  [GELU_GRAD]: { inputs: ['x', 'dy'], outputs: 1, fill: (_, [dx], [x, dy]) => geluGradInto(dy, x, dx) },
  [NORMALIZE]: { inputs: ['x'], outputs: 1, fill: (attrs, [out], [x]) => normalizeInto(x, out, ...normalization(attrs)) },
  [NORMALIZE_GRAD]: {
    inputs: ['x', 'dy'],
    outputs: 1,
    fill: (attrs, [dx], [x, dy]) => normalizeGradInto(dy, x, dx, ...normalization(attrs)),
  },
  [ADAM]: { inputs: ['value', 'm', 'v', 'gradient'], outputs: 3, fill: (attrs, outs, ins) => adamInto(ins, outs, attrs as unknown as AdamStep) },
};

function fusedKernels(backendName: string, run: ArrayKernel): tf.KernelConfig[] {
  return Object.entries(FILLS).map(([kernelName, { inputs: names, outputs, fill }]) => ({
    kernelName,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const outs = run(backend as tf.KernelBackend, names.map((name) => inputs[name]!), outputs, (o, i) => fill(attrs as Attrs, o, i));
      return outputs === 1 ? outs[0] : outs;
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
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => tf.engine().runKernel(NORMALIZE_GRAD, { x, dy: dy as tf.Tensor }, attrs) as tf.Tensor }),
  });
}

/** Registers the fused kernels for `backendName` if its memory is reachable (wasm, cpu); safe to repeat. */
export function registerFusedKernels(backendName: string): void {
  const run = KERNELS_BY_BACKEND[backendName];
  if (!run || tf.getKernel(GELU, backendName)) return;
  registerGradients();
  for (const config of fusedKernels(backendName, run)) tf.registerKernel(config);
}
