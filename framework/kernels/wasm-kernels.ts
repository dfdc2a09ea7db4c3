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
 *             stride), cropped to the filter's size and transposed back; or, where measured
 *             faster (see `filterGradFormulation`), im2col patches of x times dy in one GEMM.
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
import { heapOffset, simdKernelsOf, type SimdKernels } from './simd/index.js';

type Shape4D = [number, number, number, number];
type RunKernel = (kernelName: string, inputs: tf.NamedTensorInfoMap, attrs?: tf.NamedAttrMap) => tf.TensorInfo;
/** Hands a tensor made outside `run` to `withScratch` to free with the rest; returns it. */
type Adopt = (made: tf.TensorInfo) => tf.TensorInfo;

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
  // The backend runs a kernel's setup (wasm binds its C function there) when it starts, which
  // may be after this: ours keeps the displaced kernel's setup, so the displaced one still works.
  tf.registerKernel({ ...config, setupFunc: current?.setupFunc });
}

/**
 * Runs `body` with a `run` that calls wasm kernels directly, then frees every tensor `run`
 * made or `adopt` was given except the one `body` returns (also when `body` throws).
 */
function withScratch(backend: tf.KernelBackend, body: (run: RunKernel, adopt: Adopt) => tf.TensorInfo): tf.TensorInfo {
  const made: tf.TensorInfo[] = [];
  const adopt: Adopt = (out) => {
    made.push(out);
    return out;
  };
  const run: RunKernel = (kernelName, inputs, attrs = {}) =>
    adopt(tf.getKernel(kernelName, BACKEND).kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo);
  let result: tf.TensorInfo | undefined;
  try {
    result = body(run, adopt);
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

/** The two ways `conv2DBackpropFilter` can compute dW; see `filterGradFormulation`. */
export type FilterGradFormulation = 'conv' | 'im2col';

/**
 * The attributes of a Conv2DBackpropFilter call; `formulation` (xp's own, which tfjs passes
 * through) makes this one call use a formulation whatever the shape rule says: tests and
 * benchmarks compare the two that way, with no switch that outlives the call.
 */
export type FilterGradAttrs = tf.Conv2DBackpropFilterAttrs & { formulation?: FilterGradFormulation };

/**
 * Which formulation computes dW for a conv: 'im2col' at stride 1 with at least 28 x 28 output
 * pixels and either at least 48 output channels or a single input channel with at least 16
 * output channels; 'conv' otherwise. Measured by bench/kernels.ts on 2 shared x86 cores (3x3
 * 'same', batch 64, median ms of 7 interleaved rounds, dW by conv / by im2col; forward for scale):
 *   28x28: 1->8 2.7/3.1 (fwd 0.7), 1->16 8.6/5.4 (1.3), 8->8 6.0/8.4 (2.6), 16->16 23.5/22.2 (9.3),
 *          24->24 45/42 (21), 24->12 28.8/31.2 (13.9), 48->24 80/79 (40), 48->48 150/132 (83),
 *          64->64 254/228 (150, another run);
 *   14x14: 16->16 4.4/6.0 (2.3), 48->48 32.8/34.0 (20.5), 96->96 139/136 (87);
 *   7x7:   32->32 3.9/6.0 (2.6), 64->64 13.8/17.5 (9.8), 256->256 195/205 (another run).
 * Neither is far from the other: both run their arithmetic at XNNPACK's speed (the im2col GEMM
 * at ~24 GFLOP/s, like the forward conv), and dW costs ~1.5-2x the forward either way: the
 * conv's repacking of dy as a filter costs about what building the 9x-larger patches does.
 * im2col wins by 10-15% only where the GEMM is big enough to pay for its patch copies and its
 * wider-by-padding output grid, and at Cin = 1, where its patches are tiny and the conv is
 * mostly repacking; below 28 x 28 the wider grid (+14% at 14, +29% at 7) and the copies lose,
 * and differences under ~10% were within run-to-run noise, so they stay with 'conv'. Other
 * strides keep 'conv' (im2col's strided slices were not measured faster).
 */
export function filterGradFormulation(info: tf.backend_util.Conv2DInfo): FilterGradFormulation {
  const unitStride = info.strideHeight === 1 && info.strideWidth === 1;
  const bigGrid = info.outHeight * info.outWidth >= 28 * 28;
  const worthIt = info.outChannels >= 48 || (info.inChannels === 1 && info.outChannels >= 16);
  return unitStride && bigGrid && worthIt ? 'im2col' : 'conv';
}

function conv2DBackpropFilter({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as FilterGradAttrs;
  const info = convInfo(x.shape as Shape4D, a.filterShape, a);
  const formulation = a.formulation ?? filterGradFormulation(info);
  return withScratch(backend as tf.KernelBackend, (run, adopt) =>
    formulation === 'im2col' ? filterGradByMatMul(run, adopt, backend as BackendWasm, x, dy, info) : filterGradByConv(run, x, dy, info));
}

/**
 * dW as one wasm Conv2D: x with batch and channels swapped, [Cin, H, W, N], by dy used as the
 * filter, [oh, ow, N, Cout], dilated by the stride; its kh x kw output pixels are dW.
 */
function filterGradByConv(run: RunKernel, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
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
}

/**
 * dW as im2col and one wasm BatchMatMul (XNNPACK GEMM, which wasm only uses without transposes):
 * dW[(i, j, c), Cout] = patches[(i, j, c), M] x dy[M, Cout], with M the output pixels of every image.
 * x goes to [Cin, N, H, W] and is padded, so a tap's patch rows are slices of it that
 * concatenate straight into that layout.
 *
 * At stride 1 each (c, n) image's patch for tap (i, j) is one contiguous run of the padded
 * image, oh rows of the padded width Wp starting at row i, column j, if the output grid keeps
 * the padding columns: so M counts oh x Wp pixels per image, not oh x ow, and dy gets zero
 * columns there, which cancel whatever those patch columns hold (the next row's start; one
 * spare padded row keeps the last tap inside the image). That turns Cin x N x oh short copies
 * per tap into Cin x N long ones, for (Wp / ow - 1) more GEMM work. Other strides take strided
 * slices, [Cin x N, oh, ow] per tap.
 */
function filterGradByMatMul(run: RunKernel, adopt: Adopt, backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const { batchSize: n, inChannels: cin, outChannels: cout, outHeight: oh, outWidth: ow } = info;
  const images = cin * n;
  const unitStride = sh === 1 && sw === 1;
  const top = padInfo.top;
  const left = padInfo.left;
  const bottom = filterGradPadAfter(info.inHeight, kh, top, oh, sh) + (unitStride && kw > 1 ? 1 : 0);
  const right = filterGradPadAfter(info.inWidth, kw, left, ow, sw);
  const wp = info.inWidth + left + right;
  const channelsFirst = run('Transpose', { x }, { perm: [3, 0, 1, 2] });
  const asImages = run('Reshape', { x: channelsFirst }, { shape: [images, info.inHeight, info.inWidth] });
  const padded = top + bottom + left + right > 0
    ? run('PadV2', { x: asImages }, { paddings: [[0, 0], [top, bottom], [left, right]], constantValue: 0 })
    : asImages;
  let patches: tf.TensorInfo;
  let columns: tf.TensorInfo;
  if (unitStride) {
    patches = adopt(copyUnitStrideTaps(backend, padded, kh, kw, oh * wp));
    columns = wp === ow ? dy : run('PadV2', { x: dy }, { paddings: [[0, 0], [0, 0], [0, wp - ow], [0, 0]], constantValue: 0 });
  } else {
    const taps: tf.TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        taps.push(run('StridedSlice', { x: padded }, {
          begin: [0, i, j], end: [images, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1], strides: [1, sh, sw],
          beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
        }));
      }
    }
    patches = taps.length === 1 ? taps[0] : run('Concat', taps as unknown as tf.NamedTensorInfoMap, { axis: 0 });
    columns = dy;
  }
  const rows = kh * kw * cin;
  const a = run('Reshape', { x: patches }, { shape: [rows, tf.util.sizeFromShape(patches.shape) / rows] });
  const b = run('Reshape', { x: columns }, { shape: [a.shape[1], cout] });
  const product = run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  return run('Reshape', { x: product }, { shape: [kh, kw, cin, cout] });
}

/**
 * [kh x kw x images, length]: for each tap (i, j), then each image of `padded` [images, Hp, Wp],
 * the `length` values starting at row i, column j of that image, copied straight on the wasm
 * heap (wasm's Slice would copy all of `padded` off the heap for each tap, then the concat
 * would copy the taps again).
 */
function copyUnitStrideTaps(backend: BackendWasm, padded: tf.TensorInfo, kh: number, kw: number, length: number): tf.TensorInfo {
  const [images, hp, wp] = padded.shape;
  const out = backend.makeOutput([kh * kw * images, length], 'float32');
  // Views are taken after allocating: growing the heap detaches older ones.
  const src = backend.typedArrayFromHeap(padded) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  let to = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let image = 0, from = i * wp + j; image < images; image++, from += hp * wp, to += length) {
        dst.set(src.subarray(from, from + length), to);
      }
    }
  }
  return out;
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

/**
 * BatchMatMul through wasm's own kernel on its fast path only. wasm hands a product to
 * XNNPACK's GEMM only when neither operand is transposed and there is one matrix per
 * operand; otherwise it runs a scalar loop ~10x slower (measured: [392,96]x[32,96]^T 1.3 ms
 * vs 0.14 ms pre-transposed; 8 products of [196,64]x[64,196] 21.5 ms batched vs 1.8 ms one at
 * a time). So transposed operands are transposed first (a cheap copy) and batches of equal or
 * broadcast (size-1) batch dimensions are multiplied one matrix at a time, on heap copies.
 */
function batchMatMul({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  const wasm = backend as BackendWasm;
  const original = displaced.get(tf.BatchMatMul)!.kernelFunc;
  const multiply = (left: tf.TensorInfo, right: tf.TensorInfo) =>
    original({ inputs: { a: left, b: right }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
  return withScratch(wasm, (run, adopt) => {
    const left = transposeA ? swapLastAxes(run, a) : a;
    const right = transposeB ? swapLastAxes(run, b) : b;
    const outerA = left.shape.slice(0, -2);
    const outerB = right.shape.slice(0, -2);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const oneByOne = batchA === 1 || batchB === 1 || tf.util.arraysEqual(outerA, outerB);
    if (Math.max(batchA, batchB) === 1 || !oneByOne) return multiply(left, right);
    const outShape = [...(batchA >= batchB ? outerA : outerB), left.shape.at(-2)!, right.shape.at(-1)!];
    const kernels = simdKernelsOf(wasm);
    if (kernels && multiplyAdds(left, right) <= SMALL_PRODUCT) return smallProducts(wasm, kernels, left, right, [batchA, batchB], outShape);
    return productByProduct(wasm, adopt, left, right, Math.max(batchA, batchB), outShape, multiply);
  });
}

function swapLastAxes(run: RunKernel, t: tf.TensorInfo): tf.TensorInfo {
  const perm = t.shape.map((_, axis) => axis);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
  return run('Transpose', { x: t }, { perm });
}

/**
 * Up to this many multiply-adds a product, a batch of products runs as one SIMD loop
 * (framework/kernels/simd), not one XNNPACK call each, whose setup costs more than such a product
 * (attention at 7x7: [64, 49, 8] x [64, 8, 49] took 2.1 ms one by one, 0.35 ms in the loop; at
 * 131,072 per product XNNPACK was ahead, 0.51 vs 0.67 ms for 16 of [32, 128] x [128, 32]).
 */
const SMALL_PRODUCT = 65536;

function multiplyAdds(left: tf.TensorInfo, right: tf.TensorInfo): number {
  return left.shape.at(-2)! * left.shape.at(-1)! * right.shape.at(-1)!;
}

/** Every product of `left`'s and `right`'s matrices (a size-1 batch is reused) in one SIMD loop. */
function smallProducts(
  wasm: BackendWasm, kernels: SimdKernels, left: tf.TensorInfo, right: tf.TensorInfo, [batchA, batchB]: number[], outShape: number[],
): tf.TensorInfo {
  const [m, k] = left.shape.slice(-2);
  const n = right.shape.at(-1)!;
  const out = wasm.makeOutput(outShape, 'float32');
  const stride = (batch: number, size: number) => (batch === 1 ? 0 : size);
  kernels.batchMatMul(heapOffset(wasm, left), heapOffset(wasm, right), heapOffset(wasm, out),
    Math.max(batchA, batchB), m, k, n, stride(batchA, m * k), stride(batchB, k * n));
  return out;
}

/** `batch` products of one matrix of `left` by one of `right` (a size-1 batch is reused), stacked. */
function productByProduct(
  wasm: BackendWasm, adopt: Adopt, left: tf.TensorInfo, right: tf.TensorInfo, batch: number, outShape: number[],
  multiply: (left: tf.TensorInfo, right: tf.TensorInfo) => tf.TensorInfo,
): tf.TensorInfo {
  const [m, k] = left.shape.slice(-2);
  const n = right.shape.at(-1)!;
  const out = wasm.makeOutput(outShape, 'float32');
  const leftMatrices = matricesOf(wasm, adopt, left, [m, k], batch);
  const rightMatrices = matricesOf(wasm, adopt, right, [k, n], batch);
  for (let i = 0; i < batch; i++) {
    const product = multiply(leftMatrices(i), rightMatrices(i));
    // Views are taken after allocating: growing the heap detaches older ones.
    (wasm.typedArrayFromHeap(out) as Float32Array).set(wasm.typedArrayFromHeap(product) as Float32Array, i * m * n);
    wasm.disposeData(product.dataId);
  }
  return out;
}

/** The i-th [rows, cols] matrix of `t` as a tensor of its own; `t` itself if it holds one. */
function matricesOf(wasm: BackendWasm, adopt: Adopt, t: tf.TensorInfo, [rows, cols]: number[], batch: number): (i: number) => tf.TensorInfo {
  const size = rows * cols;
  if (tf.util.sizeFromShape(t.shape) === size) return () => t;
  const scratch = Array.from({ length: batch }, () => adopt(wasm.makeOutput([rows, cols], 'float32')));
  const all = wasm.typedArrayFromHeap(t) as Float32Array;
  scratch.forEach((matrix, i) => (wasm.typedArrayFromHeap(matrix) as Float32Array).set(all.subarray(i * size, (i + 1) * size)));
  return (i) => scratch[i];
}

/**
 * Identity, and Cast to the same dtype, without a copy: the output shares the input's memory,
 * as on the cpu backend (tensors are immutable; variables change by re-pointing). wasm copies
 * the whole tensor instead, and autodiff calls them ~300 times a quick-start step (every
 * Multiply's gradient casts its operands), ~4% of the step.
 */
function shareInput({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x } = inputs as { x: tf.TensorInfo };
  const dtype = (attrs as { dtype?: tf.DataType } | undefined)?.dtype ?? x.dtype;
  if (dtype !== x.dtype || x.dtype === 'string') {
    return displaced.get(attrs?.dtype ? tf.Cast : tf.Identity)!.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
  }
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

const TRAINING_KERNELS: tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: conv2DBackpropInput },
  { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter },
  { kernelName: tf.MaxPoolGrad, backendName: BACKEND, kernelFunc: maxPoolGrad },
  { kernelName: tf.BatchMatMul, backendName: BACKEND, kernelFunc: batchMatMul },
  { kernelName: tf.Identity, backendName: BACKEND, kernelFunc: shareInput },
  { kernelName: tf.Cast, backendName: BACKEND, kernelFunc: shareInput },
];
