import { BuildError, callback, componentRef, epochIsDue, imageGrid, inject, optional, Rng, samplesToBytes, stepIsDue, TOKENS, Type } from '../../index.js';
import type { Callback, Denoiser, Sampler, SamplerFactory, Shape3, Static, TrainingContext } from '../../index.js';

const Params = Type.Object(
  {
    n: Type.Integer({ minimum: 1, default: 5, description: 'Images per grid (the paper: 5)' }),
    every_epochs: Type.Integer({
      minimum: 0,
      default: 5,
      description: 'Render after every N-th epoch and after the last complete one; 0: never',
    }),
    every_steps: Type.Integer({ minimum: 0, default: 0, description: 'Also render every N steps; 0: never' }),
    at_end: Type.Boolean({
      default: false,
      description: 'Also render after the last step of the run, whatever the schedule (cheap models only)',
    }),
    weights: Type.String({ default: 'model', description: "Weights to sample with: 'model', or a set such as 'ema'" }),
    tag: Type.String({ default: 'Training/ImagesOverTime', description: 'TensorBoard image tag' }),
    columns: Type.Optional(Type.Integer({ minimum: 1, description: 'Images per grid row (default: near-square)' })),
    seed: Type.Integer({ minimum: 0, default: 0, description: 'Seed of the starting noise: the same every time, so grids compare' }),
    sampler: Type.Optional(
      componentRef('sampler', { description: "This grid's own sampler, on the run's schedule (e.g. full DDPM for a final grid); default: the run's sampler" }),
    ),
  },
  { additionalProperties: false },
);

/** Renders a grid of samples every N epochs or steps with fixed starting noise. */
@callback('sample-images', { description: 'Sample a grid of images during training', params: Params })
export class SampleImages implements Callback {
  readonly priority = 50;
  private lastRenderedStep = -1;
  private readonly sampler: Sampler;

  constructor(
    @inject(TOKENS.Params) private readonly params: Static<typeof Params>,
    @inject(TOKENS.Path) readonly path: string,
    @inject(TOKENS.Model) private readonly model: Denoiser,
    @inject(TOKENS.ImageShape) private readonly imageShape: Shape3,
    @inject(TOKENS.SamplerFactory) makeSampler: SamplerFactory,
    @inject(TOKENS.Sampler) @optional() runSampler?: Sampler,
  ) {
    const own = params.sampler && makeSampler(params.sampler, `${path}.sampler`);
    const sampler = own ?? runSampler;
    if (!sampler) throw new BuildError(`${path}.sampler`, "no sampler: give this callback a sampler, or the experiment a 'sampler' section");
    this.sampler = sampler;
  }

  async onStepEnd(ctx: TrainingContext): Promise<void> {
    if (stepIsDue(ctx, this.params.every_steps)) await this.render(ctx);
  }

  /** Every N-th epoch and the last one, if it completes (a step budget that ends mid-epoch renders nothing extra). */
  async onEpochEnd(ctx: TrainingContext): Promise<void> {
    if (epochIsDue(ctx, this.params.every_epochs, { lastToo: true })) await this.render(ctx);
  }

  async onRunEnd(ctx: TrainingContext): Promise<void> {
    if (this.params.at_end) await this.render(ctx);
  }

  private async render(ctx: TrainingContext): Promise<void> {
    if (ctx.step === this.lastRenderedStep) return;
    this.lastRenderedStep = ctx.step;
    const { n, columns } = this.params;
    const [h, w] = this.imageShape;
    const samples = await ctx.weights.use(this.params.weights, () =>
      this.sampler.sample(this.model, n, this.imageShape, new Rng(this.params.seed)),
    );
    const pixels = await samplesToBytes(samples);
    const grid = imageGrid(pixels, n, h, w, { columns });
    ctx.record.image(this.params.tag, grid.pixels, grid.width, grid.height, ctx.step);
  }
}
