/** Activations of the paper's UNet, written out so their definitions are explicit. */
import * as tf from '@tensorflow/tfjs';

/** Exact GELU, 0.5·x·(1 + erf(x/√2)), as torch.nn.GELU's default (not the tanh approximation). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** SiLU (swish), x·sigmoid(x). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}
