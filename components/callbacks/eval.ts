import { BuildError, callback, componentRef, epochIsDue, Evaluation, inject, LIVE_WEIGHTS, optional, Rng, sampleInBatches, stepIsDue, TOKENS, Type, XpError } from '../../index.js';
import type { Callback, Classifier, Denoiser, FeatureClassifierSource, Sampler, SamplerFactory, SetMetrics, Shape3, Static, TrainingContext } from '../../index.js';

const Params = Type.Object(
  {
    n: Type.Integer({
      minimum: 2,
      maximum: 5000,
      default: 500,
      description: 'Samples per evaluation and weight set; FID is comparable only at the same n',
    }),
    every_epochs: Type.Integer({ minimum: 0, default: 1, description: 'Evaluate after every N-th epoch; 0: never' }),
    every_steps: Type.Integer({ minimum: 0, default: 0, description: 'Also evaluate every N steps; 0: never' }),
    at_end: Type.Boolean({ default: true, description: 'Also evaluate after the last step of the run' }),
    sampler: Object.assign(
      componentRef('sampler', { description: "Sampler of the evaluated images, on the run's schedule (DDIM by default: cheap)" }),
      // Validation fills in the chosen sampler's own defaults (eta, ...).
      { default: { type: 'ddim', steps: 50 } },
    ),
    seed: Type.Integer({ minimum: 0, default: 0, description: 'Seed of the starting noise: the same every time, so evaluations compare' }),
    classifier_set: Type.Array(Type.String(), {
      default: [],
      description:
        'Overrides of the feature classifier\'s experiment, experiments/mnist-classifier.yaml (path=value), e.g. a ' +
        'cheaper classifier for smoke tests; FID compares only under the same classifier',
    }),
  },
  { additionalProperties: false },
);

type Params = Static<typeof Params>;

/** Scalars of one set of images, under its tag prefix. */
const METRIC_TAGS: [keyof SetMetrics, string][] = [
  ['fid', 'FID'],
  ['confidence', 'Confidence'],
  ['confident', 'Confident'],
  ['classEntropy', 'ClassEntropy'],
];

/**
 * Samples n images with each weight set (the live weights and, with an EMA callback, its
 * average) and records FID against the MNIST test set, mean classifier confidence, the share
 * above 0.9 and the predicted-class entropy as `Eval/FID`, `Eval/EMA_FID`, ...; with them, at
 * each evaluation, the same metrics of held-out real digits (`Eval/Real_*`, the floor) and of
 * pixel noise (`Eval/Noise_*`, the ceiling) at the same n, so every curve has its scale.
 */
@callback('eval', {
  description: 'Sample-quality metrics during training: FID on an MNIST classifier, confidence, class entropy',
  params: Params,
})
export class Eval implements Callback {
  /** After the EMA update of the step (priority 10), like anything that samples with it. */
  readonly priority = 60;
  private classifier?: Classifier;
  private evaluation?: Evaluation;
  private readonly sampler: Sampler;
  private lastStep = -1;

  constructor(
    @inject(TOKENS.Params) private readonly params: Params,
    @inject(TOKENS.Path) readonly path: string,
    @inject(TOKENS.Model) private readonly model: Denoiser,
    @inject(TOKENS.ImageShape) private readonly imageShape: Shape3,
    @inject(TOKENS.SamplerFactory) makeSampler: SamplerFactory,
    @inject(TOKENS.FeatureClassifier) @optional() private readonly featureClassifier?: FeatureClassifierSource,
  ) {
    this.sampler = makeSampler(params.sampler, `${path}.sampler`);
    if (!featureClassifier) throw new BuildError(path, 'the eval callback needs the feature classifier that `xp run` provides');
  }

  /** Loads (or on first use trains) the classifier and measures the floor and ceiling once per run. */
  async onRunBegin(): Promise<void> {
    const loaded = await this.featureClassifier!(this.params.classifier_set);
    this.classifier = loaded.classifier;
    const [h, w, c] = loaded.imageShape;
    const [height, width, channels] = this.imageShape;
    if (height !== h || width !== w || channels !== c) {
      throw new XpError(`${this.path}: the run's images are ${height}×${width}×${channels}, the classifier takes ${h}×${w}×${c}`);
    }
    this.evaluation = await Evaluation.create(loaded.classifier, this.params.n, h, w);
  }

  async onStepEnd(ctx: TrainingContext): Promise<void> {
    if (stepIsDue(ctx, this.params.every_steps)) await this.evaluate(ctx);
  }

  async onEpochEnd(ctx: TrainingContext): Promise<void> {
    if (epochIsDue(ctx, this.params.every_epochs)) await this.evaluate(ctx);
  }

  async onRunEnd(ctx: TrainingContext): Promise<void> {
    if (this.params.at_end) await this.evaluate(ctx);
  }

  dispose(): void {
    this.classifier?.dispose();
  }

  private async evaluate(ctx: TrainingContext): Promise<void> {
    if (ctx.step === this.lastStep) return;
    this.lastStep = ctx.step;
    const evaluation = this.evaluation!;
    const batch = Math.min(this.params.n, ctx.examplesPerPass);
    for (const name of ctx.weights.names()) {
      const pixels = await ctx.weights.use(name, () =>
        sampleInBatches(this.model, this.sampler, this.imageShape, this.params.n, batch, new Rng(this.params.seed)),
      );
      record(ctx, name === LIVE_WEIGHTS ? '' : `${name.toUpperCase()}_`, await evaluation.measure(pixels));
    }
    record(ctx, 'Real_', evaluation.floor);
    record(ctx, 'Noise_', evaluation.ceiling);
  }
}

function record(ctx: TrainingContext, prefix: string, metrics: SetMetrics): void {
  for (const [key, tag] of METRIC_TAGS) ctx.record.scalar(`Eval/${prefix}${tag}`, metrics[key], ctx.step);
}
