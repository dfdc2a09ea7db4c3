/**
 * Linear warm-up, then cosine decay (Loshchilov & Hutter 2017, "SGDR"; with warm-up as in Goyal
 * et al. 2017 and most diffusion training code since): the rate climbs from near zero to the
 * optimizer's over `warmup_steps`, then follows half a cosine down to `final_factor` of it at the
 * run's last step. The decay follows the step budget (`trainer.max_steps`, or the epochs): with a
 * time budget, set max_steps to about the steps the budget reaches.
 */
import { inject, lrSchedule, TOKENS, Type } from '../../index.js';
import type { LearningRateSchedule, Static } from '../../index.js';

const Params = Type.Object(
  {
    warmup_steps: Type.Integer({ minimum: 0, default: 0, description: 'Steps of linear warm-up from rate/warmup_steps to the full rate' }),
    final_factor: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0,
      description: "The rate at the last step, as a share of the optimizer's rate",
    }),
  },
  { additionalProperties: false },
);

@lrSchedule('warmup-cosine', {
  description: 'Learning rate: linear warm-up, then cosine decay to final_factor of the optimizer rate at the last step',
  params: Params,
})
export class WarmupCosine implements LearningRateSchedule {
  constructor(@inject(TOKENS.Params) private readonly params: Static<typeof Params>) {}

  factor(step: number, totalSteps: number): number {
    const { warmup_steps: warmup, final_factor: final } = this.params;
    if (step < warmup) return (step + 1) / warmup;
    const decaySteps = Math.max(1, totalSteps - warmup - 1);
    const done = Math.min(1, (step - warmup) / decaySteps);
    return final + (1 - final) * 0.5 * (1 + Math.cos(Math.PI * done));
  }
}
