/**
 * Nichol & Dhariwal's cosine schedule ("Improved DDPM", 2021): ᾱ falls like a squared cosine,
 * so the signal is destroyed more evenly over t than with linear betas.
 */
import { BetaSchedule, inject, schedule, TOKENS, Type } from '../../index.js';
import type { Static } from '../../index.js';

const CosineParams = Type.Object({
  steps: Type.Integer({ minimum: 2, default: 512, description: 'Number of diffusion steps T; timesteps run 1..T-1.' }),
  s: Type.Number({
    minimum: 0,
    default: 0.008,
    description: 'Offset that keeps β from being vanishingly small near t = 0.',
  }),
  max_beta: Type.Number({
    exclusiveMinimum: 0,
    exclusiveMaximum: 1,
    default: 0.999,
    description: 'Upper clip of β; ᾱ reaches 0 at t = T, and a β of 1 would make 1/√α infinite.',
  }),
});
type CosineParams = Static<typeof CosineParams>;

@schedule('cosine', {
  description: 'ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s)·π/2); β_t = min(1 − ᾱ(t+1)/ᾱ(t), max_beta).',
  params: CosineParams,
})
export class CosineSchedule extends BetaSchedule {
  constructor(@inject(TOKENS.Params) params: CosineParams) {
    super(cosineBetas(params));
  }
}

/**
 * β for array index i is the step from ᾱ(i) to ᾱ(i + 1), as in improved-diffusion's
 * betas_for_alpha_bar: the cumulative product then gives alphaBars[i] = ᾱ(i + 1), the same
 * "index t includes α_0" convention as the linear schedule.
 */
function cosineBetas({ steps, s, max_beta }: CosineParams): Float64Array {
  const f = (t: number) => Math.cos(((t / steps + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  return Float64Array.from({ length: steps }, (_, i) => Math.min(1 - f(i + 1) / f(i), max_beta));
}
