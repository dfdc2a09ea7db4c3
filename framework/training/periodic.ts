/**
 * When a periodic callback (sample grids, evaluations, checkpoints) acts: every N steps, and
 * after every N-th complete epoch. A step budget can end a run mid-epoch; that partial epoch
 * is never "complete", so it triggers nothing (what runs at the very end is `at_end`'s job).
 */
import type { TrainingContext } from '../interfaces.js';

/** After the step that makes `ctx.step` a multiple of `everySteps` (0: never). */
export function stepIsDue(ctx: TrainingContext, everySteps: number): boolean {
  return everySteps > 0 && ctx.step % everySteps === 0;
}

/**
 * After an epoch that completed as the N-th, N a multiple of `everyEpochs` (0: never), or with
 * `lastToo`, as the run's last epoch.
 */
export function epochIsDue(ctx: TrainingContext, everyEpochs: number, { lastToo = false } = {}): boolean {
  const epochsDone = ctx.step / ctx.stepsPerEpoch;
  if (everyEpochs <= 0 || !Number.isInteger(epochsDone)) return false;
  return epochsDone % everyEpochs === 0 || (lastToo && epochsDone === ctx.epochs);
}
