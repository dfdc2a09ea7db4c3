import { block, inject, tf, TimedDoubleConvs, TOKENS, Type, XpError } from '../../index.js';
import type { Block, BlockInput, ParamStore, Shape3, Static } from '../../index.js';

const DownParams = Type.Object(
  { out: Type.Integer({ minimum: 1, description: 'Output channels.' }) },
  { additionalProperties: false },
);

@block('Down', {
  description: 'Max-pool 2, DoubleConv(in, in, in), DoubleConv(in, out, out), plus the timestep embedding; halves H×W.',
  params: DownParams,
})
export class DownBlock implements Block {
  readonly outShape: Shape3;
  private readonly pooledShape: Shape3;
  private readonly body: TimedDoubleConvs;

  constructor(
    @inject(TOKENS.Params) params: Static<typeof DownParams>,
    @inject(TOKENS.BlockInput) input: BlockInput,
    @inject(TOKENS.ParamStore) store: ParamStore,
  ) {
    const [h, w, channels] = input.shape;
    // Pooling an odd side would drop a row, and the Up coming back could not restore the size.
    if (h % 2 !== 0 || w % 2 !== 0) {
      throw new XpError(`Down halves its input, but ${h}×${w} has an odd side (the image size must divide by 2 at every Down)`);
    }
    this.pooledShape = [h / 2, w / 2, channels];
    this.body = new TimedDoubleConvs(store, {
      inChannels: channels,
      midChannels: params.out,
      outChannels: params.out,
      residualFirst: false,
      embeddingDim: input.embeddingDim,
    });
    this.outShape = this.body.outShape(this.pooledShape);
  }

  forward(x: tf.Tensor4D, emb: tf.Tensor2D): tf.Tensor4D {
    return this.body.forward(tf.maxPool(x, 2, 2, 'valid'), emb);
  }

  flops(): number {
    return this.body.flops(this.pooledShape);
  }
}
