import { callback, epochIsDue, inject, stepIsDue, TOKENS, Type } from '../../index.js';
import type { Callback, CallbackState, Static, StepBatch, TrainingContext } from '../../index.js';

const Params = Type.Object(
  {
    every_steps: Type.Integer({ minimum: 0, default: 0, description: 'Save every N steps; 0: never' }),
    every_epochs: Type.Integer({ minimum: 0, default: 1, description: 'Save after every N-th epoch; 0: never' }),
    keep_last: Type.Integer({ minimum: 1, default: 3, description: 'Checkpoints to keep, newest first' }),
    keep_best: Type.Boolean({
      default: false,
      description: 'Also keep the checkpoint with the lowest mean training loss since the one before it',
    }),
  },
  { additionalProperties: false },
);

/** When to checkpoint (the trainer knows what, the run folder where); also at the end of the run. */
@callback('checkpoint', { description: 'Save checkpoints that `xp run --resume` continues from', params: Params })
export class Checkpoint implements Callback {
  /** After the EMA and anything else whose state goes into the checkpoint. */
  readonly priority = 90;
  private lossSum = 0;
  private lossCount = 0;
  private best?: { loss: number; checkpoint: string };
  private lastSavedStep = -1;

  constructor(
    @inject(TOKENS.Params) private readonly params: Static<typeof Params>,
    @inject(TOKENS.Path) readonly path: string,
  ) {}

  async onStepEnd(ctx: TrainingContext, batch: StepBatch): Promise<void> {
    this.lossSum += batch.loss;
    this.lossCount += 1;
    if (stepIsDue(ctx, this.params.every_steps)) await this.save(ctx);
  }

  async onEpochEnd(ctx: TrainingContext): Promise<void> {
    if (epochIsDue(ctx, this.params.every_epochs)) await this.save(ctx);
  }

  async onRunEnd(ctx: TrainingContext): Promise<void> {
    await this.save(ctx);
  }

  state(): CallbackState {
    return { json: { best: this.best ?? null } };
  }

  restore(state: CallbackState): void {
    this.best = (state.json as { best?: { loss: number; checkpoint: string } } | undefined)?.best ?? undefined;
  }

  private async save(ctx: TrainingContext): Promise<void> {
    if (ctx.step === this.lastSavedStep) return;
    this.lastSavedStep = ctx.step;
    const meanLoss = this.lossCount ? this.lossSum / this.lossCount : Infinity;
    [this.lossSum, this.lossCount] = [0, 0];
    const checkpoint = await ctx.saveCheckpoint({
      keepLast: this.params.keep_last,
      keep: this.best ? [this.best.checkpoint] : [],
    });
    if (checkpoint && this.params.keep_best && (!this.best || meanLoss < this.best.loss)) {
      this.best = { loss: meanLoss, checkpoint };
    }
  }
}
