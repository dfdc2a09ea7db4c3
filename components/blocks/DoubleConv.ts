import { block, DoubleConv, inject, TOKENS, Type } from '../../index.js';
import type { Block, BlockInput, ParamStore, Shape3, Static } from '../../index.js';
import type * as tf from '@tensorflow/tfjs';

const DoubleConvParams = Type.Object(
  {
    out: Type.Integer({ minimum: 1, description: 'Output channels.' }),
    mid: Type.Optional(Type.Integer({ minimum: 1, description: 'Channels between the two convolutions; default: out.' })),
    residual: Type.Boolean({
      default: false,
      description: 'Return GELU(x + convs(x)); needs as many input channels as out.',
    }),
  },
  { additionalProperties: false },
);

@block('DoubleConv', {
  description: 'conv3x3, GroupNorm(1), GELU, conv3x3, GroupNorm(1), optionally residual; keeps H×W, ignores the timestep.',
  params: DoubleConvParams,
})
export class DoubleConvBlock implements Block {
  readonly outShape: Shape3;
  private readonly layer: DoubleConv;

  constructor(
    @inject(TOKENS.Params) params: Static<typeof DoubleConvParams>,
    @inject(TOKENS.BlockInput) private readonly input: BlockInput,
    @inject(TOKENS.ParamStore) store: ParamStore,
  ) {
    this.layer = new DoubleConv(store, {
      inChannels: input.shape[2],
      midChannels: params.mid ?? params.out,
      outChannels: params.out,
      residual: params.residual,
    });
    this.outShape = this.layer.outShape(input.shape);
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return this.layer.forward(x);
  }

  flops(): number {
    return this.layer.flops(this.input.shape);
  }
}
