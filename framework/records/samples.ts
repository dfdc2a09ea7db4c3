/** Samples as bytes: the clamped [-1, 1] output of a sampler mapped to 0..255, as the paper does. */
import * as tf from '@tensorflow/tfjs';
import { readValues } from '../tensors.js';

/** Takes ownership of `samples` (disposes them); batches are concatenated in order. */
export async function samplesToBytes(samples: tf.Tensor4D | tf.Tensor4D[]): Promise<Uint8Array> {
  const batches = Array.isArray(samples) ? samples : [samples];
  try {
    const values = await Promise.all(batches.map((batch) => readValues(() => batch.add(1).mul(127.5).round().clipByValue(0, 255))));
    const out = new Uint8Array(values.reduce((n, v) => n + v.length, 0));
    values.reduce((offset, v) => (out.set(v, offset), offset + v.length), 0);
    return out;
  } finally {
    tf.dispose(batches);
  }
}
