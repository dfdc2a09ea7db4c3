/**
 * Native kernels for the tfjs wasm backend: oneDNN (the library PyTorch's CPU convolutions run
 * on) through a small N-API addon, onednn.cc, working in place on the wasm heap. tfjs stays the
 * engine; only Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter, BatchMatMul, xp's GELU and
 * normalization and their gradients, Add and Multiply (float32, the broadcasts a UNet makes),
 * Softmax over the last axis, Sum over adjacent axes, the gradients of max pooling and bilinear
 * resizing, Concat and SplitV change hands.
 *
 * Why: wasm runs convolutions on 128-bit SIMD without FMA (XNNPACK, 13-25 GFLOP/s here) while
 * oneDNN uses AVX2/AVX-512 FMA, 4-10x faster on the UNets' shapes (docs/performance.md), and
 * three quarters of a training step was convolution. With those native, what was left of a
 * forward pass at batch 100 was GELU (a third: erf in 128-bit SIMD, one thread), the
 * channel concatenations and splits (a seventh: tfjs-backend-wasm copies them in JavaScript,
 * a few values at a time) and the normalizations (a tenth), which oneDNN's eltwise kernel,
 * plain row copies and loops compiled for the machine's vector width on both cores do
 * several times faster.
 *
 * The addon is built by `npm run build:native` (npm install tries it too) where g++ and
 * Debian's libdnnl-dev are present. Where it is not built, or XP_NATIVE=off, the wasm kernels
 * run as before; `nativeKernelStatus()` says which and why, for `xp doctor`. A call the addon
 * does not take (another dtype, layout or broadcast; an empty tensor; padding oneDNN cannot
 * express) goes to the kernel it displaced.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { packageRoot } from '../../paths.js';
import { heapOffset } from '../simd/index.js';
import { GELU, GELU_GRAD, NORMALIZE, NORMALIZE_GRAD } from '../fused-kernels.js';

/** What onednn.cc exports; offsets are byte offsets into `heap`. */
interface OneDnnAddon {
  conv2d(heap: ArrayBuffer, x: number, filter: number, y: number, ...shape: number[]): void;
  conv2dBackpropInput(heap: ArrayBuffer, dy: number, filter: number, dx: number, ...shape: number[]): void;
  conv2dBackpropFilter(heap: ArrayBuffer, x: number, dy: number, dW: number, ...shape: number[]): void;
  batchMatMul(heap: ArrayBuffer, a: number, b: number, c: number, batchA: number, batchB: number, m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): void;
  gelu(heap: ArrayBuffer, x: number, y: number, n: number): void;
  geluGrad(heap: ArrayBuffer, x: number, dy: number, dx: number, n: number): void;
  normalize(heap: ArrayBuffer, x: number, gamma: number, beta: number, y: number, statistics: number, n: number, groupSize: number, channels: number, epsilon: number): void;
  normalizeGrad(heap: ArrayBuffer, x: number, gamma: number, dy: number, statistics: number, dx: number, dGamma: number, dBeta: number, n: number, groupSize: number, channels: number): void;
  softmax(heap: ArrayBuffer, x: number, y: number, rows: number, columns: number): void;
  sum(heap: ArrayBuffer, x: number, out: number, outer: number, mid: number, inner: number): void;
  maxPoolGrad(heap: ArrayBuffer, x: number, dy: number, dx: number, ...shape: number[]): void;
  resizeBilinearGrad(heap: ArrayBuffer, dy: number, dx: number, ...shape: number[]): void;
  binary(heap: ArrayBuffer, op: number, a: number, b: number, out: number, rows: number, mid: number, inner: number): void;
  copyColumns(heap: ArrayBuffer, src: number, srcRowLength: number, srcColumn: number, dst: number, dstRowLength: number, dstColumn: number, rows: number, columns: number): void;
  setThreads(n: number): void;
  threads(): number;
  version(): string;
}

type Shape4D = [number, number, number, number];
type KernelArgs = Parameters<tf.KernelFunc>[0];

export const NATIVE_ADDON_FILE = path.join(packageRoot, 'framework', 'kernels', 'native', 'build', 'xp-onednn.node');
/** The one line that gets the native kernels where they are missing. */
export const NATIVE_INSTALL = 'apt-get install g++ libdnnl-dev && npm run build:native';
const BACKEND = 'wasm';

/** Where the addon is loaded from: XP_NATIVE_ADDON (a test points it at nothing), else the build's output. */
function addonFile(): string {
  return process.env.XP_NATIVE_ADDON ?? NATIVE_ADDON_FILE;
}

let loaded: { addon: OneDnnAddon } | { reason: string } | undefined;

function loadAddon(): { addon: OneDnnAddon } | { reason: string } {
  if (loaded) return loaded;
  // OpenMP reads its wait policy once, when the addon brings it in. Its default spins between
  // parallel regions, which stalls on a machine whose cores are shared (docs/performance.md).
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  const threads = defaultThreads();
  if (typeof threads === 'string') return (loaded = { reason: threads });
  const file = addonFile();
  try {
    const addon = createRequire(import.meta.url)(file) as OneDnnAddon;
    addon.setThreads(threads);
    loaded = { addon };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'MODULE_NOT_FOUND' ? `${file} is not built` : `${file} failed to load: ${String(e.message).split('\n')[0]}`;
    loaded = { reason: `${why}; to get them: ${NATIVE_INSTALL}` };
  }
  return loaded;
}

const MAX_THREADS = 1024;

/**
 * oneDNN's threads for this thread's kernels: XP_NATIVE_THREADS, else one in a worker thread
 * (data-parallel training gives each worker a core of its own), else every core; or what is
 * wrong with XP_NATIVE_THREADS.
 */
function defaultThreads(): number | string {
  const setting = process.env.XP_NATIVE_THREADS;
  if (setting === undefined || setting === '') return isMainThread ? os.availableParallelism() : 1;
  const threads = Number(setting);
  if (Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS) return threads;
  return `XP_NATIVE_THREADS must be a whole number from 1 to ${MAX_THREADS}, not '${setting}'`;
}

/** Sets how many threads oneDNN uses for the calling thread's kernels (no-op where the addon is absent). */
export function setNativeThreads(threads: number): void {
  const state = loadAddon();
  if ('addon' in state) state.addon.setThreads(threads);
}

export interface NativeKernelStatus {
  /** True while the native kernels are registered on the wasm backend. */
  active: boolean;
  /** oneDNN's version and threads, or why the native kernels are not in use and how to get them. */
  detail: string;
  /** oneDNN's version, while active. */
  library?: string;
}

/** Whether the native kernels run, and if not why not, in one line for `xp doctor`. */
export function nativeKernelStatus(): NativeKernelStatus {
  if (displaced.size > 0) {
    const { addon } = loadAddon() as { addon: OneDnnAddon };
    return { active: true, detail: `${addon.version()}, ${addon.threads()} thread(s) (${addonFile()})`, library: addon.version() };
  }
  return { active: false, detail: nativeKernelsUnavailable() ?? 'built but not registered (the backend is not wasm)' };
}

/** Why the native kernels cannot be registered here (switched off, or the addon does not load), or undefined if they can. */
export function nativeKernelsUnavailable(): string | undefined {
  if (nativeDisabled()) return 'XP_NATIVE=off';
  const state = loadAddon();
  return 'reason' in state ? state.reason : undefined;
}

function nativeDisabled(): boolean {
  return ['off', '0', 'false', 'no'].includes((process.env.XP_NATIVE ?? '').toLowerCase());
}

/** The kernels the native ones displaced, by name: they take the calls the addon does not. */
const displaced = new Map<string, tf.KernelConfig>();

/**
 * Puts the native kernels over the wasm backend's (xp's wasm kernels must be registered first)
 * where the addon loads and XP_NATIVE is not off; returns whether they are in place.
 */
export function registerNativeKernels(): boolean {
  if (nativeKernelsUnavailable()) return false;
  for (const config of NATIVE_KERNEL_CONFIGS) {
    const current = tf.getKernel(config.kernelName, BACKEND);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (!current) throw new Error(`no wasm kernel ${config.kernelName} to fall back on; register the wasm backend first`);
    displaced.set(config.kernelName, current);
    tf.unregisterKernel(config.kernelName, BACKEND);
    // The backend binds a kernel's C function in its setup when it starts, which may be after
    // this: ours keeps the displaced kernel's setup, so the displaced one still works.
    tf.registerKernel({ ...config, setupFunc: current.setupFunc });
  }
  return true;
}

/** Puts back the kernels `registerNativeKernels` displaced. */
export function unregisterNativeKernels(): void {
  for (const [name, config] of displaced) {
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(config);
  }
  displaced.clear();
}

/** How many calls each native kernel has computed itself (not handed to the kernel it displaced). */
const taken = new Map<string, number>();

/** Calls the native kernels computed, by kernel name: what tests and benchmarks check to know the addon ran. */
export function nativeCallCounts(): ReadonlyMap<string, number> {
  return taken;
}

/** The addon, counting a call of `kernelName`. */
function addonFor(kernelName: string): OneDnnAddon {
  taken.set(kernelName, (taken.get(kernelName) ?? 0) + 1);
  return (loadAddon() as { addon: OneDnnAddon }).addon;
}

function fallBack(kernelName: string, args: KernelArgs): tf.TensorInfo {
  return displaced.get(kernelName)!.kernelFunc(args) as tf.TensorInfo;
}

/** The heap and each tensor's offset, read after every allocation (growing the heap replaces its buffer). */
function heapOf(backend: BackendWasm): ArrayBuffer {
  return (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer as ArrayBuffer;
}

/**
 * The conv's shape as onednn.cc takes it, or undefined where oneDNN cannot compute it:
 * anything but float32 NHWC, an empty tensor, or tfjs padding that oneDNN's output-size rule
 * (floor((in + pads - dilated kernel) / stride) + 1) does not reproduce.
 */
function convShape(info: tf.backend_util.Conv2DInfo, dataFormat: string, ...tensors: tf.TensorInfo[]): number[] | undefined {
  if (dataFormat !== 'NHWC' || tensors.some((t) => t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) === 0)) return undefined;
  const { padInfo: p } = info;
  const fits = (inSize: number, before: number, after: number, kernel: number, stride: number, out: number) =>
    before >= 0 && after >= 0 && Math.floor((inSize + before + after - kernel) / stride) + 1 === out;
  if (!fits(info.inHeight, p.top, p.bottom, info.effectiveFilterHeight, info.strideHeight, info.outHeight)) return undefined;
  if (!fits(info.inWidth, p.left, p.right, info.effectiveFilterWidth, info.strideWidth, info.outWidth)) return undefined;
  return [
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.filterHeight, info.filterWidth, info.outChannels,
    info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    p.top, p.left, p.bottom, p.right,
  ];
}

function conv2d(args: KernelArgs): tf.TensorInfo {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as unknown as tf.Conv2DAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4D, filter.shape as Shape4D, a.strides, a.dilations, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const shape = convShape(info, a.dataFormat, x, filter);
  if (!shape) return fallBack(tf.Conv2D, args);
  const backend = args.backend as BackendWasm;
  const y = backend.makeOutput(info.outShape, 'float32');
  addonFor(tf.Conv2D).conv2d(heapOf(backend), heapOffset(backend, x), heapOffset(backend, filter), heapOffset(backend, y), ...shape);
  return y;
}

function conv2dBackpropInput(args: KernelArgs): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as Shape4D, a.strides, 1, a.pad, a.dimRoundingMode);
  const shape = convShape(info, a.dataFormat, dy, filter);
  if (!shape || !tf.util.arraysEqual(dy.shape, info.outShape)) return fallBack(tf.Conv2DBackpropInput, args);
  const backend = args.backend as BackendWasm;
  const dx = backend.makeOutput(info.inShape, 'float32');
  addonFor(tf.Conv2DBackpropInput).conv2dBackpropInput(heapOf(backend), heapOffset(backend, dy), heapOffset(backend, filter), heapOffset(backend, dx), ...shape);
  return dx;
}

function conv2dBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4D, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
  const shape = convShape(info, a.dataFormat, x, dy);
  if (!shape || !tf.util.arraysEqual(dy.shape, info.outShape)) return fallBack(tf.Conv2DBackpropFilter, args);
  const backend = args.backend as BackendWasm;
  const dW = backend.makeOutput(a.filterShape, 'float32');
  addonFor(tf.Conv2DBackpropFilter).conv2dBackpropFilter(heapOf(backend), heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dW), ...shape);
  return dW;
}

/**
 * Products of the last two axes; the axes before them are one batch, which the addon takes
 * where both operands have the same batch shape or one of them holds a single matrix.
 */
function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  const [m, k] = transposeA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
  const [kB, n] = transposeB ? [b.shape.at(-1)!, b.shape.at(-2)!] : [b.shape.at(-2)!, b.shape.at(-1)!];
  const takes = a.dtype === 'float32' && b.dtype === 'float32' && a.shape.length >= 2 && b.shape.length >= 2 && k === kB
    && m * k * n > 0 && (batchA === 1 || batchB === 1 || tf.util.arraysEqual(outerA, outerB));
  if (!takes) return fallBack(tf.BatchMatMul, args);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const backend = args.backend as BackendWasm;
  const c = backend.makeOutput([...outer, m, n], 'float32');
  addonFor(tf.BatchMatMul).batchMatMul(heapOf(backend), heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, c), batchA, batchB, m, k, n, transposeA, transposeB);
  return c;
}

function gelu(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const n = tf.util.sizeFromShape(x.shape);
  if (x.dtype !== 'float32' || n === 0) return fallBack(GELU, args);
  const backend = args.backend as BackendWasm;
  const y = backend.makeOutput(x.shape, 'float32');
  addonFor(GELU).gelu(heapOf(backend), heapOffset(backend, x), heapOffset(backend, y), n);
  return y;
}

function geluGrad(args: KernelArgs): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const n = tf.util.sizeFromShape(x.shape);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || n === 0 || !tf.util.arraysEqual(x.shape, dy.shape)) return fallBack(GELU_GRAD, args);
  const backend = args.backend as BackendWasm;
  const dx = backend.makeOutput(x.shape, 'float32');
  addonFor(GELU_GRAD).geluGrad(heapOf(backend), heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dx), n);
  return dx;
}

/** The sizes the addon's normalization takes (float32, whole groups of whole positions), or undefined. */
function normalizationSizes(x: tf.TensorInfo, gamma: tf.TensorInfo, groupSize: number, ...others: tf.TensorInfo[]): [number, number, number] | undefined {
  const n = tf.util.sizeFromShape(x.shape);
  const channels = gamma.shape[0];
  const fits = [x, gamma, ...others].every((t) => t.dtype === 'float32') && gamma.shape.length === 1 && n > 0 && channels > 0
    && Number.isInteger(groupSize) && groupSize > 0 && n % groupSize === 0 && groupSize % channels === 0;
  return fits ? [n, groupSize, channels] : undefined;
}

function normalize(args: KernelArgs): tf.TensorInfo[] {
  const { x, gamma, beta } = args.inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
  const { groupSize, epsilon } = args.attrs as { groupSize: number; epsilon: number };
  const sizes = normalizationSizes(x, gamma, groupSize, beta);
  if (!sizes || !tf.util.arraysEqual(beta.shape, gamma.shape)) return fallBack(NORMALIZE, args) as unknown as tf.TensorInfo[];
  const backend = args.backend as BackendWasm;
  const y = backend.makeOutput(x.shape, 'float32');
  const statistics = backend.makeOutput([2 * (sizes[0] / groupSize)], 'float32');
  const offset = (t: tf.TensorInfo) => heapOffset(backend, t);
  addonFor(NORMALIZE).normalize(heapOf(backend), offset(x), offset(gamma), offset(beta), offset(y), offset(statistics), ...sizes, epsilon);
  return [y, statistics];
}

function normalizeGrad(args: KernelArgs): tf.TensorInfo[] {
  const { x, gamma, dy, statistics } = args.inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; dy: tf.TensorInfo; statistics: tf.TensorInfo };
  const { groupSize } = args.attrs as { groupSize: number };
  const sizes = normalizationSizes(x, gamma, groupSize, dy, statistics);
  if (!sizes || !tf.util.arraysEqual(dy.shape, x.shape) || tf.util.sizeFromShape(statistics.shape) !== 2 * (sizes[0] / groupSize)) {
    return fallBack(NORMALIZE_GRAD, args) as unknown as tf.TensorInfo[];
  }
  const backend = args.backend as BackendWasm;
  const [dx, dGamma, dBeta] = [x.shape, gamma.shape, gamma.shape].map((shape) => backend.makeOutput(shape, 'float32'));
  const offset = (t: tf.TensorInfo) => heapOffset(backend, t);
  addonFor(NORMALIZE_GRAD).normalizeGrad(heapOf(backend), offset(x), offset(gamma), offset(dy), offset(statistics), offset(dx), offset(dGamma), offset(dBeta), ...sizes);
  return [dx, dGamma, dBeta];
}

/**
 * How the addon's `binary` sees a + b or a·b: `full` has the output's shape, read as rows ×
 * inner; the other operand has one row per `mid` rows of it. That covers the same shape, a
 * broadcast over one run of adjacent axes ([n, h, w, c] with [n, 1, 1, c]; [rows, c] with [c]),
 * and a scalar; undefined for anything else (float32 only).
 */
function binaryLayout(a: tf.TensorInfo, b: tf.TensorInfo): { full: tf.TensorInfo; other: tf.TensorInfo; rows: number; mid: number; inner: number } | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || (a.shape.length === 0 && b.shape.length === 0)) return undefined;
  const out = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const size = tf.util.sizeFromShape(out);
  if (size === 0) return undefined;
  const [full, other] = tf.util.arraysEqual(a.shape, out) ? [a, b] : tf.util.arraysEqual(b.shape, out) ? [b, a] : [];
  if (!full || !other) return undefined;
  const padded = [...Array(out.length - other.shape.length).fill(1), ...other.shape];
  const broadcast = out.map((d, i) => padded[i] !== d);
  const first = broadcast.indexOf(true);
  if (first < 0) return { full, other, rows: size / out.at(-1)!, mid: 1, inner: out.at(-1)! };
  const last = broadcast.lastIndexOf(true);
  if (broadcast.slice(first, last + 1).some((b, i) => !b && out[first + i] !== 1)) return undefined;
  const inner = tf.util.sizeFromShape(out.slice(last + 1));
  return { full, other, rows: size / inner, mid: tf.util.sizeFromShape(out.slice(first, last + 1)), inner };
}

const BINARY_OPS = { [tf.Add]: 0, [tf.Multiply]: 1 } as const;

function binary(kernelName: typeof tf.Add | typeof tf.Multiply): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const layout = binaryLayout(a, b);
    if (!layout) return fallBack(kernelName, args);
    const backend = args.backend as BackendWasm;
    const out = backend.makeOutput(layout.full.shape, 'float32');
    const { full, other, rows, mid, inner } = layout;
    addonFor(kernelName).binary(heapOf(backend), BINARY_OPS[kernelName], heapOffset(backend, full), heapOffset(backend, other), heapOffset(backend, out), rows, mid, inner);
    return out;
  };
}

/** Softmax over the last axis (attention's), float32. */
function softmax(args: KernelArgs): tf.TensorInfo {
  const { logits } = args.inputs as { logits: tf.TensorInfo };
  const { dim } = args.attrs as unknown as tf.SoftmaxAttrs;
  const rank = logits.shape.length;
  const size = tf.util.sizeFromShape(logits.shape);
  if (logits.dtype !== 'float32' || size === 0 || rank === 0 || (dim !== -1 && dim !== rank - 1)) return fallBack(tf.Softmax, args);
  const backend = args.backend as BackendWasm;
  const y = backend.makeOutput(logits.shape, 'float32');
  const columns = logits.shape[rank - 1];
  addonFor(tf.Softmax).softmax(heapOf(backend), heapOffset(backend, logits), heapOffset(backend, y), size / columns, columns);
  return y;
}

/**
 * A float32 sum over one run of adjacent axes, as [outer, mid, inner] -> [outer, inner]: the
 * gradients of a bias ([rows, c] -> [c]), of a per-example vector ([n, h, w, c] -> [n, c]) and
 * softmax's row sums; other axes and dtypes go to tfjs.
 */
function sum(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const size = tf.util.sizeFromShape(x.shape);
  const adjacent = axes.length > 0 && axes.every((a, i) => a === axes[0] + i);
  if (x.dtype !== 'float32' || size === 0 || !adjacent) return fallBack(tf.Sum, args);
  const [first, last] = [axes[0], axes.at(-1)!];
  const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape, 'float32');
  const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
  const mid = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
  addonFor(tf.Sum).sum(heapOf(backend), heapOffset(backend, x), heapOffset(backend, out), outer, mid, size / (outer * mid));
  return out;
}

/** Max pooling's gradient, float32 NHWC (dilation 1, as tfjs's maxPool has). */
function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as Shape4D, filterSize, strides, 1, pad, dimRoundingMode);
  const takes = [dy, input].every((t) => t.dtype === 'float32' && tf.util.sizeFromShape(t.shape) > 0) && tf.util.arraysEqual(dy.shape, info.outShape);
  if (!takes) return fallBack(tf.MaxPoolGrad, args);
  const backend = args.backend as BackendWasm;
  const dx = backend.makeOutput(input.shape, 'float32');
  addonFor(tf.MaxPoolGrad).maxPoolGrad(heapOf(backend), heapOffset(backend, input), heapOffset(backend, dy), heapOffset(backend, dx),
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left);
  return dx;
}

/**
 * Bilinear resizing's gradient, float32 NHWC, without half-pixel centres (tfjs computes that
 * gradient as if they were off): source position r·scale, scale (in − 1)/(out − 1) with aligned
 * corners, in/out without.
 */
function resizeBilinearGrad(args: KernelArgs): tf.TensorInfo {
  const { images, dy } = args.inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
  const { alignCorners, halfPixelCenters } = args.attrs as unknown as tf.ResizeBilinearGradAttrs;
  const takes = [images, dy].every((t) => t.dtype === 'float32' && t.shape.length === 4 && tf.util.sizeFromShape(t.shape) > 0)
    && !halfPixelCenters && images.shape[0] === dy.shape[0] && images.shape[3] === dy.shape[3];
  if (!takes) return fallBack(tf.ResizeBilinearGrad, args);
  const [n, inHeight, inWidth, channels] = images.shape;
  const [, outHeight, outWidth] = dy.shape;
  const scale = (inSize: number, outSize: number) => (alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize);
  const backend = args.backend as BackendWasm;
  const dx = backend.makeOutput(images.shape, 'float32');
  addonFor(tf.ResizeBilinearGrad).resizeBilinearGrad(heapOf(backend), heapOffset(backend, dy), heapOffset(backend, dx),
    n, inHeight, inWidth, channels, outHeight, outWidth, scale(inHeight, outHeight), scale(inWidth, outWidth));
  return dx;
}

/** Concatenation and split copy 4-byte values; other dtypes (bool, complex, string) go to tfjs. */
const copiable = (t: tf.TensorInfo) => (t.dtype === 'float32' || t.dtype === 'int32') && tf.util.sizeFromShape(t.shape) > 0;

/** Values per row from `axis` on: a concatenation or split along `axis` copies rows of these. */
const rowLength = (shape: number[], axis: number) => tf.util.sizeFromShape(shape.slice(axis));

/** Each input's rows copied side by side into the output's: one row copy per input. */
function concat(args: KernelArgs): tf.TensorInfo {
  const inputs = Object.values(args.inputs) as tf.TensorInfo[];
  const axis = tf.util.parseAxisParam((args.attrs as unknown as tf.ConcatAttrs).axis, inputs[0]?.shape ?? [])[0];
  if (inputs.length < 2 || !inputs.every((t) => copiable(t) && t.dtype === inputs[0].dtype)) return fallBack(tf.Concat, args);
  const shapes = inputs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(outShape, inputs[0].dtype);
  const rows = tf.util.sizeFromShape(outShape.slice(0, axis));
  const outRow = rowLength(outShape, axis);
  const heap = heapOf(backend);
  const addon = addonFor(tf.Concat);
  let column = 0;
  for (const input of inputs) {
    const columns = rowLength(input.shape, axis);
    addon.copyColumns(heap, heapOffset(backend, input), columns, 0, heapOffset(backend, out), outRow, column, rows, columns);
    column += columns;
  }
  return out;
}

/** The inverse: each output takes its columns of the input's rows. */
function splitV(args: KernelArgs): tf.TensorInfo[] {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { numOrSizeSplits, axis: axisParam } = args.attrs as unknown as tf.SplitVAttrs;
  const axis = tf.util.parseAxisParam(axisParam, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, axis);
  if (!copiable(x) || sizes.some((size) => size === 0)) return fallBack(tf.SplitV, args) as unknown as tf.TensorInfo[];
  const backend = args.backend as BackendWasm;
  const outs = sizes.map((size) => backend.makeOutput(x.shape.map((d, i) => (i === axis ? size : d)), x.dtype));
  const rows = tf.util.sizeFromShape(x.shape.slice(0, axis));
  const inRow = rowLength(x.shape, axis);
  const heap = heapOf(backend);
  const addon = addonFor(tf.SplitV);
  let column = 0;
  for (const out of outs) {
    const columns = rowLength(out.shape, axis);
    addon.copyColumns(heap, heapOffset(backend, x), inRow, column, heapOffset(backend, out), columns, 0, rows, columns);
    column += columns;
  }
  return outs;
}

const NATIVE_KERNEL_CONFIGS: tf.KernelConfig[] = [
  { kernelName: tf.Conv2D, backendName: BACKEND, kernelFunc: conv2d },
  { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: conv2dBackpropInput },
  { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2dBackpropFilter },
  { kernelName: tf.BatchMatMul, backendName: BACKEND, kernelFunc: batchMatMul },
  { kernelName: GELU, backendName: BACKEND, kernelFunc: gelu },
  { kernelName: GELU_GRAD, backendName: BACKEND, kernelFunc: geluGrad },
  { kernelName: NORMALIZE, backendName: BACKEND, kernelFunc: normalize as unknown as tf.KernelFunc },
  { kernelName: NORMALIZE_GRAD, backendName: BACKEND, kernelFunc: normalizeGrad as unknown as tf.KernelFunc },
  { kernelName: tf.Add, backendName: BACKEND, kernelFunc: binary(tf.Add) },
  { kernelName: tf.Multiply, backendName: BACKEND, kernelFunc: binary(tf.Multiply) },
  { kernelName: tf.Softmax, backendName: BACKEND, kernelFunc: softmax },
  { kernelName: tf.Sum, backendName: BACKEND, kernelFunc: sum },
  { kernelName: tf.MaxPoolGrad, backendName: BACKEND, kernelFunc: maxPoolGrad },
  { kernelName: tf.ResizeBilinearGrad, backendName: BACKEND, kernelFunc: resizeBilinearGrad },
  { kernelName: tf.Concat, backendName: BACKEND, kernelFunc: concat },
  { kernelName: tf.SplitV, backendName: BACKEND, kernelFunc: splitV as unknown as tf.KernelFunc },
];
