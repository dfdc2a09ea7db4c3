/** Reading tensors back to JavaScript. */
import * as tf from '@tensorflow/tfjs';

/**
 * The values of the tensor that `compute` returns, with it and every tensor made on the way
 * freed. Not `tf.tidy(() => t.dataSync())`: tidy walks what its function returns looking for
 * tensors, and walks a typed array value by value (for...in into a Set), which took ~20 s a
 * step for the paper UNet's 28 M gradient values (the worker thread's share in
 * parallel-gradients.ts).
 */
export function valuesOf<R extends tf.Rank>(compute: () => tf.Tensor<R>): Float32Array | Int32Array | Uint8Array {
  const tensor = tf.tidy(compute);
  try {
    return tensor.dataSync();
  } finally {
    tensor.dispose();
  }
}
