/**
 * The loop every sampler shares: start from pure noise, ask the model for ε at each
 * timestep (whatever it predicts: see prediction.ts), let the sampler's update rule produce the
 * next x, clamp at the end. Only x (and what a multistep rule keeps) lives between steps, so
 * memory stays flat over hundreds of steps.
 */
import * as tf from '@tensorflow/tfjs';
import type { Denoiser, NoiseSchedule, SampleOptions, Shape3 } from '../interfaces.js';
import type { Rng } from '../rng.js';
import { drawNoise } from './forward-process.js';
import { noiseFrom } from './prediction.js';

/**
 * One step of a sampler: the next, less noisy x from x, the model's ε and the step's
 * position in the timestep sequence. Runs inside tf.tidy.
 */
export type ReverseStep = (x: tf.Tensor4D, predictedNoise: tf.Tensor4D, position: number) => tf.Tensor4D;

/** n samples: x ~ N(0, I), one `step` per timestep (descending), then clamped to [−1, 1]. */
export function runReverseProcess(
  model: Denoiser,
  schedule: NoiseSchedule,
  n: number,
  shape: Shape3,
  rng: Rng,
  timesteps: readonly number[],
  step: ReverseStep,
  options: SampleOptions = {},
): tf.Tensor4D {
  let x = drawNoise(rng, [n, ...shape]);
  timesteps.forEach((t, position) => {
    const next = tf.tidy(() => step(x, predictedNoise(model, schedule, x, t), position));
    x.dispose();
    x = next;
    options.onStep?.(position + 1, timesteps.length);
  });
  const clamped = tf.clipByValue(x, -1, 1);
  x.dispose();
  return clamped;
}

/** The model's ε at x and timestep t, from whatever it predicts. */
function predictedNoise(model: Denoiser, { alphaBars }: NoiseSchedule, x: tf.Tensor4D, t: number): tf.Tensor4D {
  const output = model.predict(x, tf.fill([x.shape[0]], t, 'int32'));
  return noiseFrom(model.prediction ?? 'epsilon', output, x, { alpha: Math.sqrt(alphaBars[t]), sigma: Math.sqrt(1 - alphaBars[t]) });
}
