/** Activations of the paper's UNet, written out so their definitions are explicit. */
import * as tf from '@tensorflow/tfjs';

/** Exact GELU (fused into one kernel where the backend allows; see framework/kernels/fused-kernels.ts). */
export { gelu } from '../kernels/fused-kernels.js';

/** SiLU (swish), x·sigmoid(x). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}
