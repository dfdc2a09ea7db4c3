/** Samples as bytes: the clamped [-1, 1] output of a sampler mapped to 0..255, as the paper does. */
import * as tf from '@tensorflow/tfjs';
import { valuesOf } from '../tensors.js';

/** Takes ownership of `samples` (disposes it). */
export function samplesToBytes(samples: tf.Tensor4D): Uint8Array {
  const values = valuesOf(() => samples.add(1).mul(127.5).round().clipByValue(0, 255));
  samples.dispose();
  return Uint8Array.from(values);
}
