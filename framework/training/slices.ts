/**
 * Running a batch through the model in slices, for backends whose memory cannot hold a whole
 * batch's activations (the wasm heap is 4 GB; the paper's UNet keeps about 0.45 GB per example
 * for backpropagation). A batch is the objective's named tensors, sliced along the example axis.
 */
import * as tf from '@tensorflow/tfjs';
import type { Objective, PreparedBatch, Trainable } from '../interfaces.js';

/**
 * What backpropagation keeps per example, per forward FLOP: measured on the paper's UNet on
 * wasm (1.9 GB peak for 4 examples of 10.3 GFLOP each).
 */
const ACTIVATION_BYTES_PER_FLOP = 0.045;
/** Of the wasm heap's 4 GB, what activations may take beside weights, optimizer and EMA state. */
const ACTIVATION_BUDGET_BYTES = 2e9;

/** Examples per pass: the setting, or for 'auto' what fits the wasm or cpu backend's heap (elsewhere: all). */
export function examplesPerPass(model: Trainable, setting: number | 'auto'): number {
  if (setting !== 'auto') return setting;
  if (!onOneCoreBackend()) return Infinity;
  return Math.max(1, Math.floor(ACTIVATION_BUDGET_BYTES / (forwardFlopsPerExample(model) * ACTIVATION_BYTES_PER_FLOP)));
}

/** Whether the backend is wasm or cpu: one core and one 4 GB heap per engine (worker threads add engines). */
export function onOneCoreBackend(): boolean {
  return ['wasm', 'cpu'].includes(tf.getBackend());
}

/** The model's forward FLOPs per example, from its stages' own counts. */
export function forwardFlopsPerExample(model: Pick<Trainable, 'summary'>): number {
  return model.summary().reduce((sum, row) => sum + row.flops, 0);
}

/** The number of examples in a batch (the first axis of its tensors). */
export function batchSize(batch: PreparedBatch): number {
  return Object.values(batch)[0].shape[0];
}

/** Examples [start, start + count) of every tensor of the batch; the caller disposes them. */
export function sliceBatch(batch: PreparedBatch, start: number, count: number): PreparedBatch {
  return Object.fromEntries(
    Object.entries(batch).map(([name, t]) => [name, tf.slice(t, [start, ...t.shape.slice(1).map(() => 0)], [count, ...t.shape.slice(1).map(() => -1)])]),
  );
}

/** Calls `fn` on consecutive slices of at most `size` examples with each slice's share of the batch. */
export async function forEachSlice(
  batch: PreparedBatch,
  size: number,
  fn: (part: PreparedBatch, share: number) => Promise<void>,
): Promise<void> {
  const total = batchSize(batch);
  if (size >= total) return fn(batch, 1);
  for (let start = 0; start < total; start += size) {
    const count = Math.min(size, total - start);
    const part = sliceBatch(batch, start, count);
    try {
      await fn(part, count / total);
    } finally {
      tf.dispose(Object.values(part));
    }
  }
}

/** The batch's loss under the objective, computed slice by slice without gradients. */
export async function lossInSlices(objective: Objective, batch: PreparedBatch, size: number): Promise<number> {
  let loss = 0;
  await forEachSlice(batch, size, async (part, share) => {
    loss += await scalarValue(tf.tidy(() => tf.mul(objective.loss(part), share)));
  });
  return loss;
}

/** A scalar's value, read asynchronously (every backend supports that); the tensor is freed. */
export async function scalarValue(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}
