import { block, inject, tf, TimedDoubleConvs, TOKENS, Type, XpError } from '../../index.js';
import type { Block, BlockInput, ParamStore, Shape3, Static } from '../../index.js';

const UpParams = Type.Object(
  { out: Type.Integer({ minimum: 1, description: 'Output channels.' }) },
  { additionalProperties: false },
);

@block('Up', {
  description:
    'Bilinear ×2 (align corners), concat [skip, x], DoubleConv(in, in, in, residual), DoubleConv(in, in/2, out), ' +
    'plus the timestep embedding; in = channels of x + of the skip; doubles H×W.',
  params: UpParams,
})
export class UpBlock implements Block {
  /** Takes the skip connection stored at its output resolution. */
  static readonly consumesSkip = true;

  readonly outShape: Shape3;
  private readonly joinedShape: Shape3;
  private readonly body: TimedDoubleConvs;

  constructor(
    @inject(TOKENS.Params) params: Static<typeof UpParams>,
    @inject(TOKENS.BlockInput) input: BlockInput,
    @inject(TOKENS.ParamStore) store: ParamStore,
  ) {
    const [h, w, channels] = input.shape;
    const skip = input.skip;
    if (!skip) throw new XpError('Up concatenates a skip connection, but none was given');
    if (skip[0] !== 2 * h || skip[1] !== 2 * w) {
      throw new XpError(`Up doubles ${h}×${w} to ${2 * h}×${2 * w}, but its skip connection is ${skip[0]}×${skip[1]}`);
    }
    const inChannels = skip[2] + channels;
    this.joinedShape = [2 * h, 2 * w, inChannels];
    this.body = new TimedDoubleConvs(store, {
      inChannels,
      midChannels: Math.floor(inChannels / 2),
      outChannels: params.out,
      residualFirst: true,
      embeddingDim: input.embeddingDim,
    });
    this.outShape = this.body.outShape(this.joinedShape);
  }

  forward(x: tf.Tensor4D, emb: tf.Tensor2D, skip?: tf.Tensor4D): tf.Tensor4D {
    if (!skip) throw new XpError('Up.forward needs the skip connection');
    const [height, width] = this.joinedShape;
    const upsampled = tf.image.resizeBilinear(x, [height, width], true);
    return this.body.forward(tf.concat([skip, upsampled], 3), emb);
  }

  flops(): number {
    return this.body.flops(this.joinedShape);
  }
}
