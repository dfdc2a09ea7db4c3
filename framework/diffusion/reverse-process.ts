/**
 * The loop every sampler shares: start from pure noise, ask the model for ε at each
 * timestep, let the sampler's update rule produce the next x, clamp at the end. Only x
 * lives between steps, so memory stays flat over hundreds of steps.
 */
import * as tf from '@tensorflow/tfjs';
import type { Denoiser, SampleOptions, Shape3 } from '../interfaces.js';
import type { Rng } from '../rng.js';
import { drawNoise } from './forward-process.js';

/**
 * One step of a sampler: the next, less noisy x from x, the model's ε and the step's
 * position in the timestep sequence. Runs inside tf.tidy.
 */
export type ReverseStep = (x: tf.Tensor4D, predictedNoise: tf.Tensor4D, position: number) => tf.Tensor4D;

/** n samples: x ~ N(0, I), one `step` per timestep (descending), then clamped to [−1, 1]. */
export function runReverseProcess(
  model: Denoiser,
  n: number,
  shape: Shape3,
  rng: Rng,
  timesteps: readonly number[],
  step: ReverseStep,
  options: SampleOptions = {},
): tf.Tensor4D {
  let x = drawNoise(rng, [n, ...shape]);
  timesteps.forEach((t, position) => {
    const next = tf.tidy(() => step(x, model.predict(x, tf.fill([n], t, 'int32')), position));
    x.dispose();
    x = next;
    options.onStep?.(position + 1, timesteps.length);
  });
  const clamped = tf.clipByValue(x, -1, 1);
  x.dispose();
  return clamped;
}
