/** Tensor contents kept off any backend, so the same numbers can be fed to two backends and compared. */
import * as tf from '@tensorflow/tfjs';

export interface HostTensor {
  values: Float32Array;
  shape: number[];
}

export type Differentiable = (...inputs: tf.Tensor[]) => tf.Tensor;

/** Seeds the draws in order, so a kernel test sees the same numbers on every run (CI's included). */
let draws = 0;

export function randomHost(shape: number[]): HostTensor {
  return { values: tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', ++draws).dataSync() as Float32Array), shape };
}

export function toTensor({ values, shape }: HostTensor): tf.Tensor {
  return tf.tensor(values, shape);
}
