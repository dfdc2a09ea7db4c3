import { BuildError, componentRef, Conv2d, inject, model, PREDICTIONS, stringEnum, tf, timestepEmbedding, TOKENS, Type } from '../../index.js';
import type { Block, BlockClass, BlockFactory, ComponentConfig, Denoiser, ParamStore, Prediction, Registry, Shape3, Static, SummaryRow } from '../../index.js';

const UNetParams = Type.Object(
  {
    time_dim: Type.Integer({
      minimum: 2,
      maximum: 4096,
      multipleOf: 2,
      default: 512,
      description: 'Width of the sinusoidal timestep embedding handed to every block (half sines, half cosines).',
    }),
    stages: Type.Record(
      Type.String(),
      Type.Array(componentRef('block', { description: 'A block: `type` names a registered block, the other keys are its parameters.' }), {
        minItems: 1,
      }),
      {
        minProperties: 1,
        description:
          'Stages in order, each a name and the blocks it runs in sequence. Skip connections follow the resolution: ' +
          'the input of a block that lowers the resolution is kept (the latest per resolution), and the next block that ' +
          'consumes a skip (Up) takes the one at the resolution it climbs back to.',
      },
    ),
    out_channels: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Channels of the final conv1x1; default: the image channels.' }),
    ),
    prediction: stringEnum(PREDICTIONS, {
      default: 'epsilon',
      description:
        "What the network outputs: 'epsilon', the noise (Ho et al. 2020, the paper); 'x0', the clean image; or " +
        "'v' = √ᾱ·ε − √(1−ᾱ)·x0 (Salimans & Ho 2022). Training regresses it and every sampler converts it to ε.",
    }),
  },
  { additionalProperties: false },
);

type UNetConfig = Static<typeof UNetParams>;

/** One built block and how it is wired. */
interface Step {
  stage: string;
  type: string;
  block: Block;
  params: number;
  /** Resolution under which this block's input is kept as a skip, because the block lowers the resolution. */
  keepsInputAs?: string;
  /** Resolution of the kept skip this block consumes. */
  takesSkip?: string;
}

/** What building the stages needs besides their configs. */
interface BuildContext {
  path: string;
  imageShape: Shape3;
  embeddingDim: number;
  store: ParamStore;
  buildBlock: BlockFactory;
  /** Where a block's class says whether it consumes a skip connection. */
  registry: Registry;
}

@model('UNet', {
  description:
    'A UNet of registered blocks run stage by stage, with a sinusoidal timestep embedding, skip connections wired by ' +
    'resolution and a final conv1x1 (with bias) to the image channels.',
  params: UNetParams,
})
export class UNet implements Denoiser {
  readonly prediction: Prediction;
  private readonly timeDim: number;
  private readonly steps: Step[];
  private readonly output: Conv2d;
  private readonly outputInShape: Shape3;
  private readonly outputParams: number;

  constructor(
    @inject(TOKENS.Params) params: UNetConfig,
    @inject(TOKENS.Path) path: string,
    @inject(TOKENS.ImageShape) imageShape: Shape3,
    @inject(TOKENS.ParamStore) private readonly store: ParamStore,
    @inject(TOKENS.BlockFactory) buildBlock: BlockFactory,
    @inject(TOKENS.Registry) registry: Registry,
  ) {
    this.timeDim = params.time_dim;
    this.prediction = params.prediction;
    this.steps = buildStages(params.stages, { path, imageShape, embeddingDim: params.time_dim, store, buildBlock, registry });
    this.outputInShape = this.steps[this.steps.length - 1].block.outShape;
    requireImageResolution(this.outputInShape, imageShape, path);
    const outputStore = store.scope('out');
    this.output = new Conv2d(outputStore, {
      inChannels: this.outputInShape[2],
      outChannels: params.out_channels ?? imageShape[2],
      kernelSize: 1,
      bias: true,
    });
    this.outputParams = outputStore.count();
  }

  predict(xt: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D {
    return tf.tidy(() => {
      const emb = timestepEmbedding(t, this.timeDim);
      const kept = new Map<string, tf.Tensor4D>();
      let x = xt;
      for (const step of this.steps) {
        const skip = step.takesSkip ? takeOut(kept, step.takesSkip) : undefined;
        if (step.keepsInputAs) kept.set(step.keepsInputAs, x);
        // Frees the block's intermediates as it returns, so sampling holds one block's
        // activations at a time; under a gradient tape, tfjs keeps what backprop needs.
        const input = x;
        x = tf.tidy(() => step.block.forward(input, emb, skip));
      }
      return this.output.forward(x);
    });
  }

  /** The run's ParamStore holds this model's variables. */
  variables(): Map<string, tf.Variable> {
    return this.store.variables();
  }

  summary(): SummaryRow[] {
    const blocks = this.steps.map(({ stage, type, block, params }) => ({
      stage,
      block: type,
      outShape: block.outShape,
      params,
      flops: block.flops(),
    }));
    const output: SummaryRow = {
      stage: 'out',
      block: 'conv1x1',
      outShape: this.output.outShape(this.outputInShape),
      params: this.outputParams,
      flops: this.output.flops(this.outputInShape),
    };
    return [...blocks, output];
  }

  dispose(): void {
    this.store.dispose();
  }
}

function buildStages(stages: UNetConfig['stages'], context: BuildContext): Step[] {
  const kept = new Map<string, Shape3>();
  const steps: Step[] = [];
  let shape = context.imageShape;
  for (const [stage, configs] of Object.entries(stages)) {
    requireOrderedName(stage, context.path);
    configs.forEach((config, index) => {
      const blockPath = `${context.path}.stages.${stage}.${index}`;
      try {
        const step = buildStep(stage, index, config, shape, kept, context);
        steps.push(step);
        shape = step.block.outShape;
      } catch (err) {
        // A block's own BuildError knows its path (a parameter of it, say); anything else is the block's.
        const inner = err instanceof BuildError ? err : undefined;
        const reason = inner?.reason ?? (err as Error).message;
        throw new BuildError(inner?.path ?? blockPath, `${config.type} on ${formatShape(shape)}: ${reason}`);
      }
    });
  }
  return steps;
}

/** Builds one block through the factory and wires its skips, updating `kept`. */
function buildStep(
  stage: string,
  index: number,
  config: ComponentConfig,
  shape: Shape3,
  kept: Map<string, Shape3>,
  context: BuildContext,
): Step {
  const consumesSkip = (context.registry.get('block', config.type).target as BlockClass).consumesSkip === true;
  const takesSkip = consumesSkip ? skipAbove(kept, shape) : undefined;
  const skip = takesSkip ? kept.get(takesSkip) : undefined;
  if (takesSkip) kept.delete(takesSkip);

  const scope = `stages.${stage}.${index}`;
  const store = context.store.scope(scope);
  const input = { shape, embeddingDim: context.embeddingDim, ...(skip ? { skip } : {}) };
  const block = context.buildBlock(config, `${context.path}.${scope}`, input, store);
  const out = block.outShape;
  if (skip && resolutionOf(out) !== resolutionOf(skip)) {
    throw new Error(`it outputs ${formatShape(out)}, but the skip it took is ${formatShape(skip)}`);
  }

  const lowersResolution = out[0] * out[1] < shape[0] * shape[1];
  const keepsInputAs = lowersResolution ? resolutionOf(shape) : undefined;
  if (keepsInputAs) kept.set(keepsInputAs, shape);
  return { stage, type: config.type, block, params: store.count(), keepsInputAs, takesSkip };
}

/**
 * The kept skip a block at `shape` climbs back to: the smallest kept resolution above its
 * input's. A block that consumes a skip but finds none cannot be built.
 */
function skipAbove(kept: Map<string, Shape3>, [h, w]: Shape3): string {
  const above = [...kept].filter(([, [kh, kw]]) => kh >= h && kw >= w && kh * kw > h * w);
  if (above.length === 0) {
    const keptList = [...kept.values()].map(formatShape).join(', ') || 'none';
    throw new Error(
      `it consumes a skip connection, but none is kept above ${h}×${w} (kept: ${keptList}); ` +
        'a skip is kept where a block lowers the resolution, e.g. a Down in an earlier stage',
    );
  }
  above.sort(([, a], [, b]) => a[0] * a[1] - b[0] * b[1]);
  return above[0][0];
}

function takeOut(kept: Map<string, tf.Tensor4D>, resolution: string): tf.Tensor4D {
  const skip = kept.get(resolution)!;
  kept.delete(resolution);
  return skip;
}

/** JavaScript objects list integer keys first, so a stage named `1` would run out of order. */
function requireOrderedName(stage: string, path: string): void {
  if (/^(0|[1-9]\d*)$/.test(stage)) {
    throw new BuildError(
      `${path}.stages.${stage}`,
      'a stage name must not be an integer (JavaScript orders those before all other keys, ' +
        `so the stages would run out of order); start it with a letter, e.g. 's${stage}'`,
    );
  }
}

/** ε_θ has the shape of x_t, so the last block must end at the image's resolution. */
function requireImageResolution(shape: Shape3, imageShape: Shape3, path: string): void {
  if (resolutionOf(shape) !== resolutionOf(imageShape)) {
    throw new BuildError(
      `${path}.stages`,
      `the last block outputs ${formatShape(shape)}, but the model must return the image resolution ` +
        `${resolutionOf(imageShape)}; every block that lowers the resolution needs one that raises it back`,
    );
  }
}

function resolutionOf([h, w]: Shape3): string {
  return `${h}×${w}`;
}

function formatShape(shape: Shape3): string {
  return shape.join('×');
}
