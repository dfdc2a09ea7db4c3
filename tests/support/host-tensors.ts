/** Tensor contents kept off any backend, so the same numbers can be fed to two backends and compared. */
import * as tf from '@tensorflow/tfjs';

export interface HostTensor {
  values: Float32Array;
  shape: number[];
}

export type Differentiable = (...inputs: tf.Tensor[]) => tf.Tensor;

export function randomHost(shape: number[]): HostTensor {
  return { values: tf.tidy(() => tf.randomNormal(shape).dataSync() as Float32Array), shape };
}

export function toTensor({ values, shape }: HostTensor): tf.Tensor {
  return tf.tensor(values, shape);
}
