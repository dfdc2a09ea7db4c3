/** Normalization layers with a learned per-channel scale (gamma) and shift (beta). */
import * as tf from '@tensorflow/tfjs';
import { normalize } from '../kernels/fused-kernels.js';
import { ones, zeros, type ParamStore } from './param-store.js';

/** PyTorch's default epsilon for GroupNorm and LayerNorm. */
const EPSILON = 1e-5;

class ChannelAffineNorm {
  private readonly gamma: tf.Variable;
  private readonly beta: tf.Variable;

  constructor(
    store: ParamStore,
    channels: number,
    /** How many consecutive values (channels last) share a mean and variance, given x's shape. */
    private readonly groupSize: (shape: number[]) => number,
  ) {
    this.gamma = store.variable('gamma', [channels], ones);
    this.beta = store.variable('beta', [channels], zeros);
  }

  /** (x − mean)/√(var + ε)·gamma + beta, with the biased variance; channels last. */
  forward<T extends tf.Tensor>(x: T): T {
    return normalize(x, this.gamma as tf.Tensor1D, this.beta as tf.Tensor1D, this.groupSize(x.shape), EPSILON);
  }
}

/**
 * GroupNorm with one group, the paper's: each example is normalized over all of H, W and C
 * (torch.nn.GroupNorm(1, C)). Input NHWC.
 */
export class GroupNorm extends ChannelAffineNorm {
  constructor(store: ParamStore, channels: number) {
    super(store, channels, (shape) => tf.util.sizeFromShape(shape.slice(1)));
  }
}

/** LayerNorm over the channels (the last axis) of each position, as torch.nn.LayerNorm([C]). */
export class LayerNorm extends ChannelAffineNorm {
  constructor(store: ParamStore, channels: number) {
    super(store, channels, (shape) => shape[shape.length - 1]);
  }
}
