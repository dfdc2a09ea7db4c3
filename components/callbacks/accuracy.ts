import { accuracy, BuildError, callback, classify, epochIsDue, inject, TOKENS, Type } from '../../index.js';
import type { Callback, Classifier, Dataset, LabeledImageSet, Static, TrainingContext } from '../../index.js';

const Params = Type.Object(
  {
    weights: Type.String({ default: 'model', description: "Weights to measure: 'model', or a set such as 'ema'" }),
    tag: Type.String({ default: 'Test/Accuracy', description: 'TensorBoard tag of the accuracy' }),
    every_epochs: Type.Integer({
      minimum: 0,
      default: 1,
      description: 'Measure after every N-th epoch and after the last complete one; 0: never',
    }),
    at_end: Type.Boolean({ default: true, description: 'Also measure after the last step of the run' }),
  },
  { additionalProperties: false },
);

/** A classifier's accuracy on its dataset's held-out labelled images (MNIST: the test split). */
@callback('accuracy', {
  description: "A classifier's accuracy on the dataset's held-out test images, after epochs and at the end",
  params: Params,
})
export class Accuracy implements Callback {
  /** After the EMA update of the step (priority 10), whose weights it may measure. */
  readonly priority = 60;
  private testSet?: LabeledImageSet;
  private lastStep = -1;

  constructor(
    @inject(TOKENS.Params) private readonly params: Static<typeof Params>,
    @inject(TOKENS.Path) readonly path: string,
    @inject(TOKENS.Model) private readonly model: Classifier,
    @inject(TOKENS.Dataset) private readonly dataset: Dataset,
  ) {
    if (!dataset.labels) throw new BuildError(`${path}`, 'accuracy needs a dataset with labels');
  }

  onRunBegin(): void {
    this.testSet = this.dataset.labels!.testSet();
  }

  async onEpochEnd(ctx: TrainingContext): Promise<void> {
    if (epochIsDue(ctx, this.params.every_epochs, { lastToo: true })) await this.measure(ctx);
  }

  async onRunEnd(ctx: TrainingContext): Promise<void> {
    if (this.params.at_end) await this.measure(ctx);
  }

  private async measure(ctx: TrainingContext): Promise<void> {
    if (ctx.step === this.lastStep) return;
    this.lastStep = ctx.step;
    const set = this.testSet!;
    const share = await ctx.weights.use(this.params.weights, async () =>
      accuracy(await classify(this.model, set.images, set.height, set.width), set.labels),
    );
    ctx.record.scalar(this.params.tag, share, ctx.step);
    ctx.log(`step ${ctx.step}: test accuracy ${(100 * share).toFixed(2)}% (${this.params.weights} weights)`);
  }
}
