/**
 * The paper's ancestral sampler (Ho et al. 2020, Algorithm 2) with σ_t² = β_t: one model
 * call per timestep, T−1 … 1.
 */
import { drawNoise, inject, runReverseProcess, sampler, TOKENS, Type } from '../../index.js';
import type { Denoiser, NoiseSchedule, Rng, SampleOptions, Sampler, Shape3 } from '../../index.js';
import type * as tf from '@tensorflow/tfjs';

@sampler('ddpm', {
  description: 'Ancestral DDPM sampling, as in the paper: x ← (x − β_t/√(1−ᾱ_t)·ε_θ)/√α_t + √β_t·z for t = T−1 … 1.',
  params: Type.Object({}),
})
export class DdpmSampler implements Sampler {
  /** T−1 … 1, the timesteps training draws. */
  readonly timesteps: number[];

  constructor(@inject(TOKENS.Schedule) private readonly schedule: NoiseSchedule) {
    this.timesteps = Array.from({ length: schedule.steps - 1 }, (_, i) => schedule.steps - 1 - i);
  }

  get evaluations(): number {
    return this.timesteps.length;
  }

  sample(model: Denoiser, n: number, shape: Shape3, rng: Rng, options?: SampleOptions): tf.Tensor4D {
    const { betas, alphas, alphaBars } = this.schedule;
    return runReverseProcess(model, this.schedule, n, shape, rng, this.timesteps, (x, predictedNoise, position) => {
      const t = this.timesteps[position];
      const mean: tf.Tensor4D = x.sub(predictedNoise.mul(betas[t] / Math.sqrt(1 - alphaBars[t]))).div(Math.sqrt(alphas[t]));
      // The last step (t = 1) adds no noise: its output is the sample.
      return t > 1 ? mean.add(drawNoise(rng, [n, ...shape]).mul(Math.sqrt(betas[t]))) : mean;
    }, options);
  }
}
