import { callback, EmaWeights, inject, lossInSlices, tf, TOKENS, Type } from '../../index.js';
import type { Callback, CallbackState, Objective, Static, StepBatch, TrainingContext } from '../../index.js';

const Params = Type.Object(
  {
    beta: Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 0.992,
      description: 'Weight of the old average: w_ema = beta*w_ema + (1-beta)*w (the paper: 0.992)',
    }),
    warmup_steps: Type.Integer({
      minimum: 0,
      default: 1000,
      description: 'Steps during which the EMA weights are a plain copy of the model (the paper: 1000)',
    }),
    ramp: Type.Boolean({
      default: false,
      description:
        'After the warm-up, decay by min(beta, n / (9 + n)) at step n instead of beta, so early steps weigh more ' +
        "(TensorFlow's ExponentialMovingAverage with num_updates)",
    }),
    apply_at_end: Type.Boolean({
      default: false,
      description: "At the end of a completed run, replace the model's weights by the average (a classifier's final weights, say)",
    }),
    weights: Type.String({ default: 'ema', description: 'Name under which samplers and evaluations find these weights' }),
    loss_tag: Type.String({
      default: 'Training/EMA_MSE',
      description: "Tag of the EMA model's loss (the objective's) on each training batch; empty to skip that extra forward pass",
    }),
  },
  { additionalProperties: false },
);

/** Lifecycle of the EMA (when to copy, update, log); the averaging itself is EmaWeights. */
@callback('ema', { description: 'Exponential moving average of the model weights, with warm-up', params: Params })
export class Ema implements Callback {
  /** Before anything that samples with the EMA weights (lower runs first). */
  readonly priority = 10;
  private ema?: EmaWeights;
  private readonly tensorsToRestore = new Map<string, tf.Tensor>();

  constructor(
    @inject(TOKENS.Params) private readonly params: Static<typeof Params>,
    @inject(TOKENS.Path) readonly path: string,
    @inject(TOKENS.Objective) private readonly objective: Objective,
  ) {}

  onRunBegin(ctx: TrainingContext): void {
    this.ema = new EmaWeights(ctx.model.variables());
    for (const [name, value] of this.tensorsToRestore) this.ema.shadow.get(name)?.assign(value);
    tf.dispose([...this.tensorsToRestore.values()]);
    this.tensorsToRestore.clear();
    ctx.weights.register(this.params.weights, this.ema.shadow);
  }

  async onStepEnd(ctx: TrainingContext, batch: StepBatch): Promise<void> {
    const ema = this.ema!;
    const live = ctx.model.variables();
    if (ctx.step <= this.params.warmup_steps) ema.copyFrom(live);
    else ema.update(live, this.decay(ctx.step));
    if (this.params.loss_tag) ctx.record.scalar(this.params.loss_tag, await this.emaLoss(ctx, batch), ctx.step);
  }

  /** Replaces the live weights by the average, where asked, once the run has completed. */
  onRunEnd(ctx: TrainingContext): void {
    if (!this.params.apply_at_end) return;
    for (const [name, v] of ctx.model.variables()) v.assign(this.ema!.shadow.get(name)!);
  }

  private decay(step: number): number {
    return this.params.ramp ? Math.min(this.params.beta, step / (9 + step)) : this.params.beta;
  }

  private emaLoss(ctx: TrainingContext, batch: StepBatch): Promise<number> {
    return ctx.weights.use(this.params.weights, () => lossInSlices(this.objective, batch.inputs, ctx.examplesPerPass));
  }

  /** The shadow weights, for checkpoints. */
  state(): CallbackState {
    return { tensors: this.ema?.shadow ?? new Map() };
  }

  /** Shadow weights from a checkpoint; they replace the copy made when the run begins. */
  restore(state: CallbackState): void {
    for (const [name, value] of state.tensors ?? []) this.tensorsToRestore.set(name, tf.clone(value));
  }

  dispose(): void {
    this.ema?.dispose();
  }
}
