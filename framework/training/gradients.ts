/**
 * Gradients of the noise-prediction loss over a batch. Local: this thread, in slices that fit
 * the backend's memory. Parallel (parallel-gradients.ts): shares of the batch on worker
 * threads too, since the wasm backend uses one core per thread.
 */
import * as tf from '@tensorflow/tfjs';
import type { Denoiser } from '../interfaces.js';
import { forEachSlice, type NoisedBatch } from './slices.js';

export interface BatchGradients {
  /** The batch's mean loss. */
  loss: number;
  /** Gradient of the mean loss, keyed by tfjs variable name. */
  grads: tf.NamedTensorMap;
}

export interface GradientComputer {
  compute(batch: NoisedBatch): Promise<BatchGradients>;
  dispose(): void;
}

/** The MSE between predicted and true noise, over every element. */
export function noiseLoss(model: Denoiser, batch: NoisedBatch): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(model.predict(batch.xt, batch.t), batch.noise)));
}

export class LocalGradients implements GradientComputer {
  constructor(
    private readonly model: Denoiser,
    private readonly examplesPerPass: number,
  ) {}

  async compute(batch: NoisedBatch): Promise<BatchGradients> {
    return this.computeNow(batch);
  }

  /** Slices' gradients, each weighted by its share of the batch, add up to the batch's. */
  computeNow(batch: NoisedBatch): BatchGradients {
    const variables = [...this.model.variables().values()];
    let loss = 0;
    let grads: tf.NamedTensorMap | undefined;
    forEachSlice(batch, this.examplesPerPass, (part, share) => {
      const result = tf.variableGrads(() => tf.mul(noiseLoss(this.model, part), share) as tf.Scalar, variables);
      loss += result.value.dataSync()[0];
      result.value.dispose();
      grads = grads ? addInto(grads, result.grads) : result.grads;
    });
    return { loss, grads: grads! };
  }

  dispose(): void {}
}

/** a + b by name; disposes both. */
export function addInto(a: tf.NamedTensorMap, b: tf.NamedTensorMap): tf.NamedTensorMap {
  const sum = tf.tidy(() => Object.fromEntries(Object.entries(a).map(([name, g]) => [name, tf.add(g, b[name])])));
  tf.dispose([...Object.values(a), ...Object.values(b)]);
  return sum;
}
