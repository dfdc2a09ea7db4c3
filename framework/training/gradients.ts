/**
 * Gradients of the objective's loss over a batch. Local: this thread, in slices that fit the
 * backend's memory. Parallel (parallel-gradients.ts): shares of the batch on worker threads
 * too, since the wasm backend uses one core per thread.
 */
import * as tf from '@tensorflow/tfjs';
import type { Objective, PreparedBatch, Trainable } from '../interfaces.js';
import { forEachSlice } from './slices.js';

export interface BatchGradients {
  /** The batch's mean loss (times the scale asked for). */
  loss: number;
  /** Gradient of the mean loss, keyed by tfjs variable name. */
  grads: tf.NamedTensorMap;
}

export interface GradientComputer {
  compute(batch: PreparedBatch): Promise<BatchGradients>;
  dispose(): void;
}

export class LocalGradients implements GradientComputer {
  constructor(
    private readonly model: Trainable,
    private readonly objective: Objective,
    private readonly examplesPerPass: number,
  ) {}

  /**
   * Slices' gradients, each weighted by its share of the batch, add up to the batch's; all of it
   * times `scale` (a worker's share of a larger batch), which costs nothing folded into the loss.
   */
  async compute(batch: PreparedBatch, scale = 1): Promise<BatchGradients> {
    const variables = [...this.model.variables().values()];
    let loss = 0;
    let grads: tf.NamedTensorMap | undefined;
    await forEachSlice(batch, this.examplesPerPass, async (part, share) => {
      const result = tf.variableGrads(() => tf.mul(this.objective.loss(part), share * scale) as tf.Scalar, variables);
      grads = grads ? addInto(grads, result.grads) : result.grads;
      try {
        loss += (await result.value.data())[0];
      } finally {
        result.value.dispose();
      }
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
