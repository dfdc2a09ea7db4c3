/**
 * Reading tensors back to JavaScript. Reads are asynchronous (`await data()`): the webgpu
 * backend has no synchronous read in Node (its dataSync needs OffscreenCanvas), and on a GPU
 * an asynchronous read lets the queue run while JavaScript waits.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The values of the tensor that `compute` returns, with it and every tensor made on the way
 * freed. Not `tf.tidy(() => t.dataSync())`: tidy walks what its function returns looking for
 * tensors, and walks a typed array value by value (for...in into a Set), which took ~20 s a
 * step for the paper UNet's 28 M gradient values (the worker thread's share in
 * parallel-gradients.ts).
 */
export async function readValues<R extends tf.Rank>(compute: () => tf.Tensor<R>): Promise<Float32Array | Int32Array | Uint8Array> {
  const tensor = tf.tidy(compute);
  try {
    return await tensor.data();
  } finally {
    tensor.dispose();
  }
}

/** The one value of a scalar (or the first of any tensor); disposes it. */
export async function readScalar(tensor: tf.Tensor): Promise<number> {
  try {
    return (await tensor.data())[0];
  } finally {
    tensor.dispose();
  }
}
