/** The paper's schedule (and Ho et al.'s): betas evenly spaced from beta_start to beta_end. */
import { BetaSchedule, inject, schedule, TOKENS, Type } from '../../index.js';
import type { Static } from '../../index.js';

const LinearParams = Type.Object({
  steps: Type.Integer({ minimum: 2, default: 512, description: 'Number of diffusion steps T; timesteps run 1..T-1.' }),
  beta_start: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 1e-4, description: 'β at t = 0.' }),
  beta_end: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.02, description: 'β at t = T-1.' }),
});
type LinearParams = Static<typeof LinearParams>;

@schedule('linear', {
  description: 'Betas linear from beta_start to beta_end over T steps (the paper: 1e-4 to 0.02, T = 512).',
  params: LinearParams,
})
export class LinearSchedule extends BetaSchedule {
  constructor(@inject(TOKENS.Params) params: LinearParams) {
    super(linspace(params.beta_start, params.beta_end, params.steps));
  }
}

/** `count` values from `first` to `last`, both included, like torch.linspace. */
function linspace(first: number, last: number, count: number): Float64Array {
  const step = (last - first) / (count - 1);
  return Float64Array.from({ length: count }, (_, i) => first + i * step);
}
