/**
 * Convolution training kernels: forward, dx and dW of 3x3 'same' convs at the UNet's shapes,
 * and a training step through a stack of two of them, with xp's wasm kernels
 * (framework/kernels/wasm-kernels.ts) and without them; then forward, dx and dW at the quick-start
 * model's small channel counts, with dW by each of its two formulations and by the shape rule
 * that picks between them.
 */
import * as tf from '@tensorflow/tfjs';
import { displacedWasmKernel, filterGradFormulation as filterGradFormulationOf, type FilterGradFormulation } from '../framework/kernels/wasm-kernels.js';
import { readValues } from '../framework/tensors.js';
import { fastestOfRounds, gflops, medianOfRounds, table, type Benchmark, type BenchmarkContext } from './harness.js';

interface ConvShape {
  batch: number;
  size: number;
  channels: number;
}

interface SmallShape {
  batch: number;
  size: number;
  in: number;
  out: number;
}

interface SmallShapeResult {
  shape: SmallShape & { kernel: number };
  forward: Rate;
  dx: Rate;
  dWByConv: Rate;
  dWByIm2col: Rate;
  dW: Rate & { formulation: FilterGradFormulation };
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
/** Small-channel convs of the quick-start model (and the profile), in -> out channels. */
const SMALL_SHAPES: SmallShape[] = [
  { batch: 64, size: 28, in: 1, out: 8 },
  { batch: 64, size: 28, in: 1, out: 16 },
  { batch: 64, size: 28, in: 8, out: 8 },
  { batch: 64, size: 28, in: 16, out: 16 },
  { batch: 64, size: 28, in: 24, out: 24 },
  { batch: 64, size: 28, in: 24, out: 12 },
  { batch: 64, size: 28, in: 48, out: 24 },
  { batch: 64, size: 28, in: 48, out: 48 },
  { batch: 64, size: 14, in: 16, out: 16 },
  { batch: 64, size: 14, in: 48, out: 48 },
  { batch: 64, size: 14, in: 96, out: 96 },
  { batch: 64, size: 7, in: 32, out: 32 },
  { batch: 64, size: 7, in: 64, out: 64 },
];
/** Medians: the small shapes take milliseconds, so seven rounds cost little. */
const SMALL_REPS = { warmup: 1, reps: 7 };
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
  cpuOnly: true,
  description: `${KERNEL}x${KERNEL} conv forward, dx, dW and a ${STACK_DEPTH}-conv training step, batch ${SHAPES[0].batch}`,
  async run(context: BenchmarkContext) {
    const comparable = context.backend === 'wasm';
    const results: ShapeResult[] = [];
    for (const shape of SHAPES) results.push(await measureShape(shape, comparable));
    const notes = comparable
      ? [`"without" = ${WITHOUT}.`, ...acceptance(results[0])]
      : ['No "without" rows: they compare wasm kernels only.'];
    const small: SmallShapeResult[] = [];
    if (comparable) for (const shape of SMALL_SHAPES) small.push(await measureSmallShape(shape));
    const smallReport = comparable
      ? ['', `Small channel counts, ${KERNEL}x${KERNEL} 'same', median ms (GFLOP/s) of ${SMALL_REPS.reps} interleaved rounds;`,
        'dW by conv is the formulation every shape used before the rule; dW is what the rule picks.', '', smallTable(small)]
      : [];
    return {
      report: [reportTable(results), '', ...notes, ...smallReport].join('\n'),
      data: { without: comparable ? WITHOUT : null, reps: { fast: FAST_REPS, slow: SLOW_REPS, small: SMALL_REPS }, results, small },
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
    const { forward, ...withNewKernels } = await measureNewKernels(shape, tensors);
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

async function measureNewKernels(shape: ConvShape, { x, filters, dy }: ShapeTensors): Promise<Training & { forward: Rate }> {
  const flop = convFlop(shape);
  const stack = (input: tf.Tensor, ...weights: tf.Tensor[]) =>
    weights.reduce((h, w) => tf.conv2d(h as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), input);
  const stepGradients = tf.grads(stack);
  const ms = await fastestOfRounds({
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
  const { dx: dxMs } = await fastestOfRounds({
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
  const firstImage = async (t: tf.Tensor4D) => ({ values: await readValues(() => t.slice(0, 1)), shape: [1, ...t.shape.slice(1)] });
  const [xHost, dyHost] = [await firstImage(x), await firstImage(dy)];
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const [xCpu, dyCpu] = [xHost, dyHost].map(({ values, shape }) => tf.tensor(values, shape));
    const { dW } = await fastestOfRounds({
      dW: () => runAndFree(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: xCpu, dy: dyCpu }, { ...CONV_ATTRS, filterShape })),
    }, SLOW_REPS);
    tf.dispose([xCpu, dyCpu]);
    return dW;
  } finally {
    await tf.setBackend(previous);
  }
}

async function measureSmallShape(shape: SmallShape): Promise<SmallShapeResult> {
  const { batch, size } = shape;
  process.stderr.write(`measuring ${batch}x${size}x${size}x${shape.in} -> ${shape.out}\n`);
  const x = tf.randomNormal<tf.Rank.R4>([batch, size, size, shape.in]);
  const filter = tf.randomNormal<tf.Rank.R4>([KERNEL, KERNEL, shape.in, shape.out]);
  const dy = tf.randomNormal<tf.Rank.R4>([batch, size, size, shape.out]);
  const dW = (formulation?: FilterGradFormulation) => () =>
    runAndFree(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...CONV_ATTRS, filterShape: filter.shape, ...(formulation ? { formulation } : {}) }));
  try {
    const ms = await medianOfRounds({
      forward: () => runAndFree(() => tf.conv2d(x, filter, 1, 'same')),
      dx: () => runAndFree(() => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, { ...CONV_ATTRS, inputShape: x.shape })),
      dWByConv: dW('conv'),
      dWByIm2col: dW('im2col'),
      dW: dW(),
    }, SMALL_REPS);
    const flop = 2 * batch * size * size * shape.in * shape.out * KERNEL * KERNEL;
    const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, 1, 1, 'same');
    return {
      shape: { ...shape, kernel: KERNEL },
      forward: rate(flop, ms.forward),
      dx: rate(flop, ms.dx),
      dWByConv: rate(flop, ms.dWByConv),
      dWByIm2col: rate(flop, ms.dWByIm2col),
      dW: { ...rate(flop, ms.dW), formulation: filterGradFormulationOf(info) },
    };
  } finally {
    tf.dispose([x, filter, dy]);
  }
}

function smallTable(results: SmallShapeResult[]): string {
  const cell = (r: Rate) => `${rounded(r.ms)} (${rounded(r.gflops)})`;
  const rows = results.map((r) => [
    `${r.shape.batch}x${r.shape.size}x${r.shape.size}x${r.shape.in}->${r.shape.out}`,
    cell(r.forward), cell(r.dx), cell(r.dWByConv), cell(r.dWByIm2col), cell(r.dW), r.dW.formulation,
  ]);
  return table(['shape (NxHxWxCin->Cout)', 'fwd', 'dx', 'dW by conv', 'dW by im2col', 'dW', 'rule picks'], rows);
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
