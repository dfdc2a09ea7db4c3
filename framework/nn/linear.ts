/** Fully connected layer over the last axis, with bias. */
import * as tf from '@tensorflow/tfjs';
import { fanInUniform, type Initializer, type ParamStore } from './param-store.js';

export interface LinearInit {
  /** Default: PyTorch's, U(±1/sqrt(in)). */
  weight?: Initializer;
  /** Default: PyTorch's, U(±1/sqrt(in)). */
  bias?: Initializer;
}

export class Linear {
  private readonly kernel: tf.Variable;
  private readonly bias: tf.Variable;

  constructor(
    store: ParamStore,
    readonly inFeatures: number,
    readonly outFeatures: number,
    init: LinearInit = {},
  ) {
    const pytorchDefault = fanInUniform(inFeatures);
    this.kernel = store.variable('kernel', [inFeatures, outFeatures], init.weight ?? pytorchDefault);
    this.bias = store.variable('bias', [outFeatures], init.bias ?? pytorchDefault);
  }

  /** x: [..., in] → [..., out]. */
  forward<T extends tf.Tensor>(x: T): T {
    const rows = tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
    const y = tf.add(tf.matMul(rows, this.kernel as tf.Tensor2D), this.bias);
    return tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]) as T;
  }

  /** One multiply-add per input value and output feature; `inputShape` is [..., in] per example. */
  flops(inputShape: readonly number[]): number {
    return 2 * this.outFeatures * inputShape.reduce((a, b) => a * b, 1);
  }
}
