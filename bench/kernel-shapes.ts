/**
 * The convolutions and matrix products one training pass of a model really runs: every
 * Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter and BatchMatMul that autodiff asks the
 * engine for (not the kernels those call inside), with their shapes, attributes and how many
 * times each occurs. Traced, not listed by hand, so a change to a model shows up here and in
 * the per-kernel benchmarks that use it.
 */
import { registerBuiltins } from '../components/index.js';
import * as tf from '@tensorflow/tfjs';
import { resolveExperiment } from '../framework/config/resolve.js';
import { assemble } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { Denoiser } from '../framework/interfaces.js';

export const TRACED_KERNELS = [tf.Conv2D, tf.Conv2DBackpropInput, tf.Conv2DBackpropFilter, tf.BatchMatMul] as const;
export type TracedKernel = (typeof TRACED_KERNELS)[number];

export interface KernelCall {
  kernel: TracedKernel;
  /** Input shapes by input name (x/filter, dy/filter, x/dy, a/b). */
  inputs: Record<string, number[]>;
  attrs: Record<string, unknown>;
  outputShape: number[];
  /** Multiply-adds times two. */
  flop: number;
  /** How many times one training pass makes this call. */
  count: number;
}

type RunKernel = (name: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap) => tf.Tensor | tf.Tensor[];

/** The traced calls of one forward + backward pass of the experiment's model on `batch` images. */
export async function traceTrainingPass(experiment: string, batch: number): Promise<KernelCall[]> {
  const config = await resolveExperiment(experiment, { registry: registerBuiltins() });
  const model = assemble(config).get(TOKENS.Model) as Denoiser;
  const calls = new Map<string, KernelCall>();
  const engine = tf.engine() as unknown as { runKernel: RunKernel };
  const original = engine.runKernel;
  engine.runKernel = function traced(name, inputs, attrs = {}) {
    const out = original.call(this, name, inputs, attrs);
    if ((TRACED_KERNELS as readonly string[]).includes(name)) record(calls, name as TracedKernel, inputs, attrs, (out as tf.Tensor).shape);
    return out;
  };
  try {
    const x = tf.randomNormal([batch, 28, 28, 1]) as tf.Tensor4D;
    const t = tf.fill([batch], 100, 'int32') as tf.Tensor1D;
    const variables = [...model.variables().values()];
    const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(x, model.predict(x, t)) as tf.Scalar, variables);
    tf.dispose([x, t, value, ...Object.values(grads)]);
  } finally {
    engine.runKernel = original;
    model.dispose();
  }
  return [...calls.values()];
}

function record(calls: Map<string, KernelCall>, kernel: TracedKernel, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap, outputShape: number[]): void {
  const shapes = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, t.shape]));
  const kept = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== null && v !== undefined));
  const key = JSON.stringify([kernel, shapes, kept]);
  const found = calls.get(key);
  if (found) {
    found.count++;
    return;
  }
  calls.set(key, { kernel, inputs: shapes, attrs: kept, outputShape, flop: flopOf(kernel, shapes, kept, outputShape), count: 1 });
}

/** 2 x multiply-adds: a conv's three kernels each cost one forward, per output pixel Cin x kh x kw. */
function flopOf(kernel: TracedKernel, inputs: Record<string, number[]>, attrs: Record<string, unknown>, out: number[]): number {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  switch (kernel) {
    case tf.Conv2D: {
      const [kh, kw, cin] = inputs.filter;
      return 2 * size(out) * kh * kw * cin;
    }
    case tf.Conv2DBackpropInput: {
      const [kh, kw, , cout] = inputs.filter;
      return 2 * size(out) * kh * kw * cout;
    }
    case tf.Conv2DBackpropFilter: {
      const dy = inputs.dy;
      return 2 * size(dy) * size(out.slice(0, 3));
    }
    case tf.BatchMatMul: {
      const a = inputs.a;
      const inner = attrs.transposeA ? a.at(-2)! : a.at(-1)!;
      return 2 * size(out) * inner;
    }
  }
}
