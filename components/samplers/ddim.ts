/**
 * DDIM (Song et al. 2021): a deterministic (eta = 0) or partly stochastic sampler that visits
 * only a subsequence of the timesteps, so a model trained for T steps samples in far fewer
 * calls; at 50 steps it loses little quality against T-step DDPM, where DDPM with skipped
 * steps collapses.
 */
import { drawNoise, inject, runReverseProcess, sampler, tf, TOKENS, Type, visitableSteps } from '../../index.js';
import type { Denoiser, NoiseSchedule, Rng, SampleOptions, Sampler, Shape3, Static } from '../../index.js';

const DdimParams = Type.Object({
  steps: Type.Integer({
    minimum: 2,
    default: 50,
    description: 'Number of model calls: timesteps evenly spaced from T−1 down to 1; at most T−1.',
  }),
  eta: Type.Number({
    minimum: 0,
    maximum: 1,
    default: 0,
    description: 'Scale of the noise added each step: 0 is deterministic DDIM, 1 is DDPM with the posterior variance β̃_t.',
  }),
  clip_denoised: Type.Boolean({
    default: true,
    description: "Clamp each step's estimate of x_0 to [−1, 1], the range of the data, and use the noise that matches it.",
  }),
});
type DdimParams = Static<typeof DdimParams>;

@sampler('ddim', {
  description: 'DDIM: deterministic (eta = 0) sampling over an evenly spaced subsequence of the timesteps.',
  params: DdimParams,
})
export class DdimSampler implements Sampler {
  /** Descending, from T−1 to 1. */
  readonly timesteps: number[];

  constructor(
    @inject(TOKENS.Params) private readonly params: DdimParams,
    @inject(TOKENS.Schedule) private readonly schedule: NoiseSchedule,
    @inject(TOKENS.Path) path: string,
  ) {
    this.timesteps = evenlySpacedDescending(schedule.steps - 1, visitableSteps(schedule, params.steps, path));
  }

  get evaluations(): number {
    return this.timesteps.length;
  }

  sample(model: Denoiser, n: number, shape: Shape3, rng: Rng, options?: SampleOptions): tf.Tensor4D {
    const { alphaBars } = this.schedule;
    return runReverseProcess(model, this.schedule, n, shape, rng, this.timesteps, (x, predictedNoise, position) => {
      const alphaBar = alphaBars[this.timesteps[position]];
      // Past the last timestep lies the data itself: ᾱ = 1, no noise left.
      const previous = position + 1 < this.timesteps.length ? alphaBars[this.timesteps[position + 1]] : 1;
      const sigma = this.params.eta * Math.sqrt(((1 - previous) / (1 - alphaBar)) * (1 - alphaBar / previous));

      let x0: tf.Tensor4D = x.sub(predictedNoise.mul(Math.sqrt(1 - alphaBar))).div(Math.sqrt(alphaBar));
      let noise = predictedNoise;
      if (this.params.clip_denoised) {
        x0 = tf.clipByValue(x0, -1, 1);
        // The noise that goes with the clamped x_0 (as GLIDE does): with the model's own, an
        // under-trained model's clamped estimates leave a gray, speckled background.
        noise = x.sub(x0.mul(Math.sqrt(alphaBar))).div(Math.sqrt(1 - alphaBar));
      }
      const next: tf.Tensor4D = x0.mul(Math.sqrt(previous)).add(noise.mul(Math.sqrt(1 - previous - sigma ** 2)));
      // Only a stochastic step consumes random numbers, so eta = 0 draws nothing after x_T.
      return sigma > 0 ? next.add(drawNoise(rng, [n, ...shape]).mul(sigma)) : next;
    }, options);
  }
}

/** `count` integers from `last` down to 1, both ends included, as evenly spaced as integers allow. */
function evenlySpacedDescending(last: number, count: number): number[] {
  const spacing = (last - 1) / (count - 1);
  return Array.from({ length: count }, (_, k) => last - Math.round(k * spacing));
}
