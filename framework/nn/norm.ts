/** Normalization layers with a learned per-channel scale (gamma) and shift (beta). */
import * as tf from '@tensorflow/tfjs';
import { ones, zeros, type ParamStore } from './param-store.js';

/** PyTorch's default epsilon for GroupNorm and LayerNorm. */
const EPSILON = 1e-5;

class ChannelAffineNorm {
  private readonly gamma: tf.Variable;
  private readonly beta: tf.Variable;

  constructor(
    store: ParamStore,
    channels: number,
    private readonly axes: (rank: number) => number[],
  ) {
    this.gamma = store.variable('gamma', [channels], ones);
    this.beta = store.variable('beta', [channels], zeros);
  }

  /** (x − mean)/√(var + ε)·gamma + beta, mean and (biased) variance over `axes`; channels last. */
  forward<T extends tf.Tensor>(x: T): T {
    const { mean, variance } = tf.moments(x, this.axes(x.rank), true);
    const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, EPSILON)));
    return tf.add(tf.mul(normalized, this.gamma), this.beta);
  }
}

/**
 * GroupNorm with one group, the paper's: each example is normalized over all of H, W and C
 * (torch.nn.GroupNorm(1, C)). Input NHWC.
 */
export class GroupNorm extends ChannelAffineNorm {
  constructor(store: ParamStore, channels: number) {
    super(store, channels, () => [1, 2, 3]);
  }
}

/** LayerNorm over the channels (the last axis) of each position, as torch.nn.LayerNorm([C]). */
export class LayerNorm extends ChannelAffineNorm {
  constructor(store: ParamStore, channels: number) {
    super(store, channels, (rank) => [rank - 1]);
  }
}
