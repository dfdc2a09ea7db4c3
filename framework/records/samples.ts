/** Samples as bytes: the clamped [-1, 1] output of a sampler mapped to 0..255, as the paper does. */
import * as tf from '@tensorflow/tfjs';
import { readValues } from '../tensors.js';

/** Takes ownership of `samples` (disposes them). */
export async function samplesToBytes(samples: tf.Tensor4D): Promise<Uint8Array> {
  try {
    return Uint8Array.from(await readValues(() => samples.add(1).mul(127.5).round().clipByValue(0, 255)));
  } finally {
    samples.dispose();
  }
}
