/**
 * The forward (noising) process q(x_t | x_0) = N(√ᾱ_t·x_0, (1 − ᾱ_t)·I) and what training
 * draws for it. Written once for every schedule: it reads only the schedule's ᾱ.
 *
 * Noise and timesteps come from xp's seeded Rng, not tfjs's random ops, so a run draws the
 * same numbers on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { NoiseSchedule } from '../interfaces.js';
import type { Rng } from '../rng.js';
import type { Scales } from './prediction.js';

/**
 * `per-batch`: one t shared by the whole batch, as the paper's code does.
 * `per-example`: one t per example, as Ho et al. do.
 */
export type TimestepMode = 'per-batch' | 'per-example';

export class ForwardProcess {
  /** √ᾱ_t and √(1 − ᾱ_t) by t, float32 on the backend: gathered once per batch. */
  private readonly signalScale: tf.Tensor1D;
  private readonly noiseScale: tf.Tensor1D;

  constructor(private readonly schedule: NoiseSchedule) {
    this.signalScale = tf.tensor1d(Float32Array.from(schedule.alphaBars, (alphaBar) => Math.sqrt(alphaBar)));
    this.noiseScale = tf.tensor1d(Float32Array.from(schedule.alphaBars, (alphaBar) => Math.sqrt(1 - alphaBar)));
  }

  /** x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, with t: [n] int32, one timestep per example. */
  qSample(x0: tf.Tensor4D, t: tf.Tensor1D, noise: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const { alpha, sigma } = this.scales(t);
      return tf.add(tf.mul(alpha, x0), tf.mul(sigma, noise));
    });
  }

  /** √ᾱ_t and √(1 − ᾱ_t) of each example, as [n, 1, 1, 1]; call inside tf.tidy. */
  scales(t: tf.Tensor1D): Scales<tf.Tensor4D> {
    const perExample = (table: tf.Tensor1D) => tf.gather(table, t).reshape([-1, 1, 1, 1]) as tf.Tensor4D;
    return { alpha: perExample(this.signalScale), sigma: perExample(this.noiseScale) };
  }

  /** n timesteps, each uniform on 1..T−1 (t = 0 is never trained, as in the paper). */
  drawTimesteps(rng: Rng, n: number, mode: TimestepMode): Int32Array {
    const draw = () => rng.int(1, this.schedule.steps - 1);
    if (mode === 'per-example') return Int32Array.from({ length: n }, draw);
    return new Int32Array(n).fill(draw());
  }

  dispose(): void {
    this.signalScale.dispose();
    this.noiseScale.dispose();
  }
}

/** ε ~ N(0, I) of the given NHWC shape, drawn from `rng`. */
export function drawNoise(rng: Rng, shape: [number, number, number, number]): tf.Tensor4D {
  const values = rng.fillNormal(new Float32Array(shape[0] * shape[1] * shape[2] * shape[3]));
  return tf.tensor4d(values, shape);
}
