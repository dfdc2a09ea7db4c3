/**
 * What every noise schedule derives from its betas: α = 1 − β and ᾱ_t = Π_{i≤t} α_i, in
 * float64 (in float32 the product over hundreds of steps drifts visibly, and the samplers
 * divide by √ᾱ). A schedule only chooses its betas.
 */
import { BuildError } from '../errors.js';
import type { NoiseSchedule } from '../interfaces.js';

export abstract class BetaSchedule implements NoiseSchedule {
  readonly steps: number;
  readonly alphas: Float64Array;
  readonly alphaBars: Float64Array;

  protected constructor(readonly betas: Float64Array) {
    this.steps = betas.length;
    this.alphas = betas.map((beta) => 1 - beta);
    this.alphaBars = cumulativeProduct(this.alphas);
  }
}

function cumulativeProduct(values: Float64Array): Float64Array {
  const products = new Float64Array(values.length);
  let product = 1;
  values.forEach((value, i) => (products[i] = product *= value));
  return products;
}

/**
 * A sampler's step count, once it is one the schedule can give: at most T−1 timesteps to visit
 * (t = 0 is never drawn); otherwise a BuildError at the sampler's `steps`.
 */
export function visitableSteps({ steps: scheduleSteps }: { steps: number }, steps: number, path: string): number {
  const available = scheduleSteps - 1;
  if (steps > available) throw new BuildError(`${path}.steps`, `is ${steps}, but the schedule has only ${available} timesteps to visit`);
  return steps;
}
