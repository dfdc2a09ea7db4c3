/**
 * Running a batch through the model in slices, for backends whose memory cannot hold a whole
 * batch's activations (the wasm heap is 4 GB; the paper's UNet keeps about 0.45 GB per example
 * for backpropagation).
 */
import * as tf from '@tensorflow/tfjs';
import type { Denoiser } from '../interfaces.js';

/**
 * What backpropagation keeps per example, per forward FLOP: measured on the paper's UNet on
 * wasm (1.9 GB peak for 4 examples of 10.3 GFLOP each).
 */
const ACTIVATION_BYTES_PER_FLOP = 0.045;
/** Of the wasm heap's 4 GB, what activations may take beside weights, optimizer and EMA state. */
const ACTIVATION_BUDGET_BYTES = 2e9;

/** Examples per pass: the setting, or for 'auto' what fits the wasm or cpu backend's heap (elsewhere: all). */
export function examplesPerPass(model: Denoiser, setting: number | 'auto'): number {
  if (setting !== 'auto') return setting;
  if (!['wasm', 'cpu'].includes(tf.getBackend())) return Infinity;
  const flopsPerExample = model.summary().reduce((sum, row) => sum + row.flops, 0);
  return Math.max(1, Math.floor(ACTIVATION_BUDGET_BYTES / (flopsPerExample * ACTIVATION_BYTES_PER_FLOP)));
}

export interface NoisedBatch {
  xt: tf.Tensor4D;
  t: tf.Tensor1D;
  noise: tf.Tensor4D;
}

/** Calls `fn` on consecutive slices of at most `size` examples with each slice's share of the batch. */
export function forEachSlice(batch: NoisedBatch, size: number, fn: (part: NoisedBatch, share: number) => void): void {
  const total = batch.xt.shape[0];
  if (size >= total) {
    fn(batch, 1);
    return;
  }
  for (let start = 0; start < total; start += size) {
    const count = Math.min(size, total - start);
    const part = {
      xt: tf.slice(batch.xt, [start, 0, 0, 0], [count, -1, -1, -1]),
      t: tf.slice(batch.t, [start], [count]),
      noise: tf.slice(batch.noise, [start, 0, 0, 0], [count, -1, -1, -1]),
    };
    try {
      fn(part, count / total);
    } finally {
      tf.dispose([part.xt, part.t, part.noise]);
    }
  }
}

/** The batch's noise-prediction MSE, computed slice by slice without gradients. */
export function lossInSlices(model: Denoiser, batch: NoisedBatch, size: number): number {
  let loss = 0;
  forEachSlice(batch, size, (part, share) => {
    const value = tf.tidy(() => tf.mul(tf.losses.meanSquaredError(part.noise, model.predict(part.xt, part.t)), share));
    loss += value.dataSync()[0];
    value.dispose();
  });
  return loss;
}
