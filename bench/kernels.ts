/**
 * Convolution training kernels: forward, dx and dW of 3x3 'same' convs at the UNet's shapes,
 * and a training step through a stack of two of them, with xp's wasm kernels
 * (framework/wasm-kernels.ts) and without them.
 */
import * as tf from '@tensorflow/tfjs';
import { displacedWasmKernel } from '../framework/wasm-kernels.js';
import { fastestOfRounds, gflops, table, type Benchmark, type BenchmarkContext } from './harness.js';

interface ConvShape {
  batch: number;
  size: number;
  channels: number;
}

interface Rate {
  ms: number;
  gflops: number;
}

interface Training {
  dx: Rate;
  dW: Rate;
  step: Rate;
}

interface ShapeResult {
  shape: ConvShape & { kernel: number; stackDepth: number };
  forward: Rate;
  withNewKernels: Training;
  without: Training | null;
  stepSpeedup: number | null;
}

interface ShapeTensors {
  x: tf.Tensor4D;
  filters: tf.Tensor4D[];
  dy: tf.Tensor4D;
}

const SHAPES: ConvShape[] = [
  { batch: 64, size: 28, channels: 64 },
  { batch: 64, size: 14, channels: 128 },
  { batch: 64, size: 7, channels: 256 },
];
const KERNEL = 3;
const STACK_DEPTH = 2;
const CONV_ATTRS = { strides: 1, pad: 'same', dataFormat: 'NHWC' } as const;
/** The acceptance bar of issue 2, checked at the first shape. */
const MIN_STEP_SPEEDUP = 8;
const MIN_GRADIENT_TO_FORWARD = 0.5;

const WITHOUT =
  "wasm as shipped: dx from its own scalar-loop Conv2DBackpropInput; dW, which wasm lacks, from " +
  "the cpu backend's Conv2DBackpropFilter, timed on one image and multiplied by the batch (its " +
  "work is linear in the batch, and a full batch takes minutes); step = " +
  `${STACK_DEPTH} x (forward + dx + dW), since a real step would take as long`;
// The fast kernels get an untimed round, then the best of five; the slow ones take seconds a
// run, so one timed run each.
const FAST_REPS = { warmup: 1, reps: 5 };
const SLOW_REPS = { warmup: 0, reps: 1 };

export const kernels: Benchmark = {
  name: 'kernels',
  description: `${KERNEL}x${KERNEL} conv forward, dx, dW and a ${STACK_DEPTH}-conv training step, batch ${SHAPES[0].batch}`,
  async run(context: BenchmarkContext) {
    const comparable = context.backend === 'wasm';
    const results: ShapeResult[] = [];
    for (const shape of SHAPES) results.push(await measureShape(shape, comparable));
    const notes = comparable
      ? [`"without" = ${WITHOUT}.`, ...acceptance(results[0])]
      : ['No "without" rows: they compare wasm kernels only.'];
    return {
      report: [reportTable(results), '', ...notes].join('\n'),
      data: { without: comparable ? WITHOUT : null, reps: { fast: FAST_REPS, slow: SLOW_REPS }, results },
    };
  },
};

function convFlop({ batch, size, channels }: ConvShape): number {
  return 2 * batch * size * size * channels * channels * KERNEL * KERNEL;
}

function rate(flop: number, ms: number): Rate {
  return { ms, gflops: gflops(flop, ms) };
}

/** Runs `fn` and frees every tensor it made. */
function runAndFree(fn: () => tf.TensorContainer): void {
  tf.dispose(tf.tidy(fn));
}

async function measureShape(shape: ConvShape, comparable: boolean): Promise<ShapeResult> {
  const { batch, size, channels } = shape;
  process.stderr.write(`measuring ${batch}x${size}x${size}x${channels}\n`);
  const tensors: ShapeTensors = {
    x: tf.randomNormal([batch, size, size, channels]),
    filters: Array.from({ length: STACK_DEPTH }, () => tf.randomNormal<tf.Rank.R4>([KERNEL, KERNEL, channels, channels])),
    dy: tf.randomNormal([batch, size, size, channels]),
  };
  try {
    const { forward, ...withNewKernels } = measureNewKernels(shape, tensors);
    const without = comparable ? await measureShipped(shape, tensors, forward) : null;
    return {
      shape: { ...shape, kernel: KERNEL, stackDepth: STACK_DEPTH },
      forward,
      withNewKernels,
      without,
      stepSpeedup: without && without.step.ms / withNewKernels.step.ms,
    };
  } finally {
    tf.dispose([tensors.x, tensors.dy, ...tensors.filters]);
  }
}

function measureNewKernels(shape: ConvShape, { x, filters, dy }: ShapeTensors): Training & { forward: Rate } {
  const flop = convFlop(shape);
  const stack = (input: tf.Tensor, ...weights: tf.Tensor[]) =>
    weights.reduce((h, w) => tf.conv2d(h as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), input);
  const stepGradients = tf.grads(stack);
  const ms = fastestOfRounds({
    forward: () => runAndFree(() => tf.conv2d(x, filters[0], 1, 'same')),
    dx: () => runAndFree(() => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: filters[0] }, { ...CONV_ATTRS, inputShape: x.shape })),
    dW: () => runAndFree(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...CONV_ATTRS, filterShape: filters[0].shape })),
    step: () => runAndFree(() => stepGradients([x, ...filters], dy)),
  }, FAST_REPS);
  return {
    forward: rate(flop, ms.forward),
    dx: rate(flop, ms.dx),
    dW: rate(flop, ms.dW),
    step: rate(3 * STACK_DEPTH * flop, ms.step),
  };
}

/** What training a conv cost on wasm before xp's kernels (see WITHOUT). */
async function measureShipped(shape: ConvShape, { x, filters, dy }: ShapeTensors, forward: Rate): Promise<Training> {
  const flop = convFlop(shape);
  const shippedDx = displacedWasmKernel(tf.Conv2DBackpropInput);
  if (!shippedDx) throw new Error('xp wasm kernels are not registered, so there is nothing to compare them with');
  const backend = tf.backend();
  // Kernels are set up when their backend starts, and this one was unregistered before that.
  shippedDx.setupFunc?.(backend);
  const attrs = { ...CONV_ATTRS, inputShape: x.shape };
  const { dx: dxMs } = fastestOfRounds({
    dx: () => {
      const dx = shippedDx.kernelFunc({ inputs: { dy, filter: filters[0] }, backend, attrs }) as tf.TensorInfo;
      backend.disposeData(dx.dataId);
    },
  }, SLOW_REPS);
  const dWMs = (await cpuFilterGradientOfOneImage(x, dy, filters[0].shape)) * shape.batch;
  return {
    dx: rate(flop, dxMs),
    dW: rate(flop, dWMs),
    step: rate(3 * STACK_DEPTH * flop, STACK_DEPTH * (forward.ms + dxMs + dWMs)),
  };
}

/** Milliseconds the cpu backend's Conv2DBackpropFilter takes for the first image of x and dy. */
async function cpuFilterGradientOfOneImage(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[]): Promise<number> {
  const firstImage = (t: tf.Tensor4D) => ({ values: tf.tidy(() => t.slice(0, 1).dataSync()), shape: [1, ...t.shape.slice(1)] });
  const [xHost, dyHost] = [firstImage(x), firstImage(dy)];
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const [xCpu, dyCpu] = [xHost, dyHost].map(({ values, shape }) => tf.tensor(values, shape));
    const { dW } = fastestOfRounds({
      dW: () => runAndFree(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: xCpu, dy: dyCpu }, { ...CONV_ATTRS, filterShape })),
    }, SLOW_REPS);
    tf.dispose([xCpu, dyCpu]);
    return dW;
  } finally {
    await tf.setBackend(previous);
  }
}

/** Three significant digits below 100, whole numbers above. */
function rounded(n: number): number {
  return n >= 100 ? Math.round(n) : Number(n.toPrecision(3));
}

function reportTable(results: ShapeResult[]): string {
  const rows = results.flatMap((r) => {
    const label = `${r.shape.batch}x${r.shape.size}x${r.shape.size}x${r.shape.channels}`;
    const row = (variant: string, t: Training) =>
      [label, variant, ...[r.forward.gflops, t.dx.gflops, t.dW.gflops, t.step.ms / 1000, t.step.gflops].map(rounded)];
    return [row('new', r.withNewKernels), ...(r.without ? [row('without', r.without)] : [])];
  });
  const header = ['shape (NxHxWxC)', 'kernels', 'fwd GFLOP/s', 'dx GFLOP/s', 'dW GFLOP/s', 'step s', 'step GFLOP/s'];
  const speedups = results
    .filter((r) => r.stepSpeedup !== null)
    .map((r) => `step speedup at ${r.shape.size}x${r.shape.size}x${r.shape.channels}: ${rounded(r.stepSpeedup!)}x`);
  return [table(header, rows), '', ...speedups].join('\n');
}

function acceptance(first: ShapeResult): string[] {
  const check = (ok: boolean, what: string) => `${ok ? 'PASS' : 'FAIL'}  ${what}`;
  const { dx, dW } = first.withNewKernels;
  const where = `${first.shape.size}x${first.shape.size}x${first.shape.channels}`;
  const nearForward = (r: Rate) => r.gflops >= MIN_GRADIENT_TO_FORWARD * first.forward.gflops;
  return [
    check((first.stepSpeedup ?? 0) >= MIN_STEP_SPEEDUP, `step at ${where} at least ${MIN_STEP_SPEEDUP}x faster than without`),
    check(nearForward(dx), `dx within 2x of forward's GFLOP/s at ${where}`),
    check(nearForward(dW), `dW within 2x of forward's GFLOP/s at ${where}`),
  ];
}
