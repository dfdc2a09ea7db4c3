/**
 * Convolution training kernels for the tfjs wasm backend.
 *
 * Why: tfjs-backend-wasm 4.22.0 registers no `Conv2DBackpropFilter` (tensorflow/tfjs#8474),
 * so `tf.grad` through `conv2d` throws, and its `Conv2DBackpropInput` is a scalar C++ loop
 * that runs at ~2 GFLOP/s while the forward `Conv2D` (XNNPACK) runs at ~24. Both gradients
 * are forward convolutions in disguise, so these kernels rearrange their operands with the
 * backend's own kernels and hand the arithmetic to its fast `Conv2D`:
 *   dx = conv(dy with zeros inserted between rows and columns for stride > 1, padded,
 *             by the spatially flipped filter with in and out channels swapped);
 *   dW = conv(x with batch and channels swapped, by dy used as the filter, dilated by the
 *             stride), cropped to the filter's size and transposed back.
 * They call kernels directly, not tf ops, as tfjs backends do inside kernels, and free every
 * intermediate they make.
 *
 * wasm's `MaxPoolGrad` is wrong too: it starts each window's search for the maximum at FLT_MIN
 * (std::numeric_limits<float>::min(), the smallest positive float) instead of -infinity, so a
 * window whose values are all <= 0 loses its gradient. Ours is a plain loop over the heap that
 * routes dy to each window's first strict maximum, as the cpu backend does.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Shape4D = [number, number, number, number];
type RunKernel = (kernelName: string, inputs: tf.NamedTensorInfoMap, attrs?: tf.NamedAttrMap) => tf.TensorInfo;

const BACKEND = 'wasm';

/** Kernels that `registerWasmTrainingKernels` displaced, kept so benchmarks can compare against them. */
const displaced = new Map<string, tf.KernelConfig>();

/** Registers the training kernels for the wasm backend; safe to call more than once. */
export function registerWasmTrainingKernels(): void {
  for (const config of TRAINING_KERNELS) replaceKernel(config);
}

/** The kernel wasm itself registered under `kernelName` before ours replaced it, if any. */
export function displacedWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  return displaced.get(kernelName);
}

function replaceKernel(config: tf.KernelConfig): void {
  const current = tf.getKernel(config.kernelName, BACKEND);
  if (current?.kernelFunc === config.kernelFunc) return;
  if (current) {
    displaced.set(config.kernelName, current);
    tf.unregisterKernel(config.kernelName, BACKEND);
  }
  tf.registerKernel(config);
}

/**
 * Runs `body` with a `run` that calls wasm kernels directly, then frees every tensor `run`
 * made except the one `body` returns (also when `body` throws).
 */
function withScratch(backend: tf.KernelBackend, body: (run: RunKernel) => tf.TensorInfo): tf.TensorInfo {
  const made: tf.TensorInfo[] = [];
  const run: RunKernel = (kernelName, inputs, attrs = {}) => {
    const out = tf.getKernel(kernelName, BACKEND).kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
    made.push(out);
    return out;
  };
  let result: tf.TensorInfo | undefined;
  try {
    result = body(run);
    return result;
  } finally {
    for (const info of made) if (info !== result) backend.disposeData(info.dataId);
  }
}

function convInfo(
  inShape: Shape4D,
  filterShape: Shape4D,
  attrs: tf.Conv2DBackpropInputAttrs | tf.Conv2DBackpropFilterAttrs,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat !== 'NHWC') {
    throw new Error(`wasm conv2d gradients support dataFormat 'NHWC' only, got '${attrs.dataFormat}'`);
  }
  return tf.backend_util.computeConv2DInfo(inShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

function conv2d(
  run: RunKernel, x: tf.TensorInfo, filter: tf.TensorInfo, pad: tf.backend_util.ExplicitPadding,
  dilations: [number, number] = [1, 1],
): tf.TensorInfo {
  return run('Conv2D', { x, filter }, { strides: 1, dilations, pad, dataFormat: 'NHWC' });
}

/** The `size` block of `t` starting at `begin`; `t` itself when that is all of it. */
function crop(run: RunKernel, t: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  if (begin.every((b) => b === 0) && tf.util.arraysEqual(t.shape, size)) return t;
  return run('Slice', { x: t }, { begin, size });
}

/** dy with stride-1 zero rows after each row and stride-1 zero columns after each column. */
function spreadByStride(run: RunKernel, dy: tf.TensorInfo, [sh, sw]: [number, number]): tf.TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [n, oh, ow, c] = dy.shape;
  const apart = run('Reshape', { x: dy }, { shape: [n * oh, 1, ow, 1, c] });
  const paddings = [[0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]];
  const spread = run('PadV2', { x: apart }, { paddings, constantValue: 0 });
  return run('Reshape', { x: spread }, { shape: [n, oh * sh, ow * sw, c] });
}

/** How one spatial axis of the dx correlation is padded, and where the wanted dx starts in its output. */
interface CorrelationAxis {
  pad: [number, number];
  cropStart: number;
}

/**
 * One spatial axis of dx as a stride-1 correlation of the stride-spread dy (`spreadSize` long)
 * with the flipped filter: the forward's before-pad mirrors to kernel - 1 - padBefore (cropped
 * from the output's start instead where that is negative), and the after-pad is whatever
 * still leaves dx short.
 */
function correlationAxis(inSize: number, kernel: number, padBefore: number, spreadSize: number): CorrelationAxis {
  const before = kernel - 1 - padBefore;
  const after = inSize + kernel - 1 - spreadSize - before;
  return { pad: [Math.max(0, before), Math.max(0, after)], cropStart: Math.max(0, -before) };
}

function conv2DBackpropInput({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = convInfo(a.inputShape, filter.shape as Shape4D, a);
  return withScratch(backend as tf.KernelBackend, (run) => {
    const flipped = run('Reverse', { x: filter }, { dims: [0, 1] });
    const swapped = run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
    const spread = spreadByStride(run, dy, [info.strideHeight, info.strideWidth]);
    const rows = correlationAxis(info.inHeight, info.filterHeight, info.padInfo.top, spread.shape[1]);
    const cols = correlationAxis(info.inWidth, info.filterWidth, info.padInfo.left, spread.shape[2]);
    const full = conv2d(run, spread, swapped, [[0, 0], rows.pad, cols.pad, [0, 0]]);
    return crop(run, full, [0, rows.cropStart, cols.cropStart, 0], info.inShape);
  });
}

/** After-pad of x that lets the last dy row/column, `stride` apart, still see a whole filter. */
function filterGradPadAfter(inSize: number, kernel: number, padBefore: number, outSize: number, stride: number): number {
  return Math.max(0, (outSize - 1) * stride + kernel - inSize - padBefore);
}

function conv2DBackpropFilter({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = convInfo(x.shape as Shape4D, a.filterShape, a);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  return withScratch(backend as tf.KernelBackend, (run) => {
    const channelsAsBatch = run('Transpose', { x }, { perm: [3, 1, 2, 0] });
    const dyAsFilter = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [padInfo.top, filterGradPadAfter(info.inHeight, kh, padInfo.top, info.outHeight, sh)],
      [padInfo.left, filterGradPadAfter(info.inWidth, kw, padInfo.left, info.outWidth, sw)],
      [0, 0],
    ];
    const perInputChannel = conv2d(run, channelsAsBatch, dyAsFilter, pad, [sh, sw]);
    const cropped = crop(run, perInputChannel, [0, 0, 0, 0], [info.inChannels, kh, kw, info.outChannels]);
    return run('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] });
  });
}

function maxPoolGrad({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4D, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput(input.shape, 'float32');
  // Views are taken after allocating: growing the heap detaches older ones.
  const dx = wasm.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  routeToWindowMaxima(wasm.typedArrayFromHeap(input) as Float32Array, wasm.typedArrayFromHeap(dy) as Float32Array, dx, info);
  return out;
}

/** Adds each dy value to dx at the first strict maximum of its pooling window in x (NHWC). */
function routeToWindowMaxima(x: Float32Array, dy: Float32Array, dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, padInfo } = info;
  let dyIndex = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let outRow = 0; outRow < outHeight; outRow++) {
      const rowCorner = outRow * info.strideHeight - padInfo.top;
      const rowStart = Math.max(0, rowCorner);
      const rowEnd = Math.min(inHeight, rowCorner + info.filterHeight);
      for (let outCol = 0; outCol < outWidth; outCol++) {
        const colCorner = outCol * info.strideWidth - padInfo.left;
        const colStart = Math.max(0, colCorner);
        const colEnd = Math.min(inWidth, colCorner + info.filterWidth);
        for (let channel = 0; channel < inChannels; channel++, dyIndex++) {
          let max = -Infinity;
          let maxIndex = -1;
          for (let row = rowStart; row < rowEnd; row++) {
            for (let col = colStart; col < colEnd; col++) {
              const index = ((b * inHeight + row) * inWidth + col) * inChannels + channel;
              if (x[index] > max) {
                max = x[index];
                maxIndex = index;
              }
            }
          }
          if (maxIndex >= 0) dx[maxIndex] += dy[dyIndex];
        }
      }
    }
  }
}

const TRAINING_KERNELS: tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: conv2DBackpropInput },
  { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter },
  { kernelName: tf.MaxPoolGrad, backendName: BACKEND, kernelFunc: maxPoolGrad },
];
