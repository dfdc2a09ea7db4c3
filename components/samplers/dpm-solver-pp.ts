/**
 * DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
 * Probabilistic Models", Algorithm 2): a second-order multistep solver of the probability-flow
 * ODE in its data-prediction form. Each step reuses the previous step's x_0 estimate, so it
 * costs one model call and reaches DDPM-like quality in 10-25 calls where DDIM needs more.
 */
import { inject, runReverseProcess, sampler, tf, TOKENS, Type, visitableSteps } from '../../index.js';
import type { Denoiser, NoiseSchedule, Rng, SampleOptions, Sampler, Shape3, Static } from '../../index.js';

const Params = Type.Object(
  {
    steps: Type.Integer({
      minimum: 2,
      default: 20,
      description: 'Number of model calls: timesteps from T−1 down to 1, evenly spaced in log-SNR (where the solver steps); at most T−1.',
    }),
    clip_denoised: Type.Boolean({
      default: true,
      description: "Clamp each step's estimate of x_0 to [−1, 1], the range of the data (thresholding, as the paper does for pixels).",
    }),
  },
  { additionalProperties: false },
);
type Params = Static<typeof Params>;

@sampler('dpm-solver++', {
  description: 'DPM-Solver++(2M): a second-order multistep ODE solver; good samples in 10-25 model calls.',
  params: Params,
})
export class DpmSolverPlusPlus implements Sampler {
  /** Descending, from T−1 to 1, evenly spaced in λ. */
  readonly timesteps: number[];

  constructor(
    @inject(TOKENS.Params) private readonly params: Params,
    @inject(TOKENS.Schedule) private readonly schedule: NoiseSchedule,
    @inject(TOKENS.Path) path: string,
  ) {
    this.timesteps = logSnrSpaced(schedule, visitableSteps(schedule, params.steps, path));
  }

  get evaluations(): number {
    return this.timesteps.length;
  }

  /**
   * With α = √ᾱ, σ = √(1 − ᾱ) and λ = log(α/σ), each step from t to s (h = λ_s − λ_t) is
   * x_s = (σ_s/σ_t)·x_t − α_s·(e^{−h} − 1)·D, where D is the x_0 estimate at t, corrected by
   * the previous one (D = (1 + 1/2r)·x̂_t − (1/2r)·x̂_prev, r = h_prev/h). The last call's x_0
   * estimate is the sample.
   */
  sample(model: Denoiser, n: number, shape: Shape3, rng: Rng, options?: SampleOptions): tf.Tensor4D {
    const at = (t: number) => {
      const alphaBar = this.schedule.alphaBars[t];
      const [alpha, sigma] = [Math.sqrt(alphaBar), Math.sqrt(1 - alphaBar)];
      return { alpha, sigma, lambda: Math.log(alpha / sigma) };
    };
    let previous: { x0: tf.Tensor4D; lambda: number } | undefined;
    try {
      return runReverseProcess(model, this.schedule, n, shape, rng, this.timesteps, (x, predictedNoise, position) => {
        const now = at(this.timesteps[position]);
        let x0: tf.Tensor4D = x.sub(predictedNoise.mul(now.sigma)).div(now.alpha);
        if (this.params.clip_denoised) x0 = tf.clipByValue(x0, -1, 1);
        const isLast = position + 1 === this.timesteps.length;
        const next = isLast ? x0 : this.step(x, x0, now, at(this.timesteps[position + 1]), previous);
        if (previous) previous.x0.dispose();
        // Kept past the step's tidy: the next step's correction needs it.
        previous = isLast ? undefined : { x0: tf.keep(x0), lambda: now.lambda };
        return next;
      }, options);
    } finally {
      previous?.x0.dispose();
    }
  }

  private step(
    x: tf.Tensor4D,
    x0: tf.Tensor4D,
    now: { alpha: number; sigma: number; lambda: number },
    next: { alpha: number; sigma: number; lambda: number },
    previous?: { x0: tf.Tensor4D; lambda: number },
  ): tf.Tensor4D {
    const h = next.lambda - now.lambda;
    let d = x0;
    if (previous) {
      const r = (now.lambda - previous.lambda) / h;
      d = x0.mul(1 + 1 / (2 * r)).sub(previous.x0.mul(1 / (2 * r)));
    }
    return x.mul(next.sigma / now.sigma).sub(d.mul(next.alpha * Math.expm1(-h)));
  }
}

/**
 * `count` timesteps from T−1 down to 1, evenly spaced in λ = log(α/σ) (half the log-SNR), the
 * variable the solver steps in, each rounded to the nearest timestep and kept distinct.
 */
function logSnrSpaced({ alphaBars, steps }: NoiseSchedule, count: number): number[] {
  const lambda = (t: number) => 0.5 * Math.log(alphaBars[t] / (1 - alphaBars[t]));
  const [first, last] = [lambda(steps - 1), lambda(1)];
  const chosen: number[] = [];
  let t = steps - 1;
  for (let k = 0; k < count; k++) {
    const target = first + ((last - first) * k) / (count - 1);
    // λ rises as t falls: walk down to the timestep nearest the target, leaving room for the rest.
    while (t > count - k && Math.abs(lambda(t - 1) - target) < Math.abs(lambda(t) - target)) t -= 1;
    chosen.push(t);
    t -= 1;
  }
  return chosen;
}
