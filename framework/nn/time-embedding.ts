/** How the timestep reaches the blocks: a fixed sinusoidal code, then a learned head per block. */
import * as tf from '@tensorflow/tfjs';
import { silu } from './activations.js';
import { Linear } from './linear.js';
import type { ParamStore } from './param-store.js';

/**
 * [sin(t·f_0) … sin(t·f_{d/2−1}), cos(t·f_0) … cos(t·f_{d/2−1})] with f_i = 10000^(−2i/d),
 * the paper's pos_encoding. t: [n] timesteps (any numeric dtype) → [n, dim]; dim must be even.
 */
export function timestepEmbedding(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  const half = dim / 2;
  const frequencies = Float32Array.from({ length: half }, (_, i) => 10000 ** (-(2 * i) / dim));
  const angles = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(frequencies, [1, half]));
  return tf.concat([tf.sin(angles), tf.cos(angles)], 1) as tf.Tensor2D;
}

/** SiLU, Linear(embedding → C), added to every position of a feature map with C channels. */
export class TimeEmbeddingHead {
  private readonly linear: Linear;

  constructor(store: ParamStore, embeddingDim: number, channels: number) {
    this.linear = new Linear(store, embeddingDim, channels);
  }

  /** x: [n, h, w, C]; emb: [n, embeddingDim]. */
  forward(x: tf.Tensor4D, emb: tf.Tensor2D): tf.Tensor4D {
    const perChannel = this.linear.forward(silu(emb));
    return tf.add(x, tf.reshape(perChannel, [-1, 1, 1, this.linear.outFeatures]));
  }

  /** Per example: the Linear on one embedding vector. */
  flops(): number {
    return this.linear.flops([this.linear.inFeatures]);
  }
}
