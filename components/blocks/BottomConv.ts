import { block, DoubleConv, inject, TOKENS, Type } from '../../index.js';
import type { Block, BlockInput, ParamStore, Shape3, Static } from '../../index.js';
import type * as tf from '@tensorflow/tfjs';

const BottomConvParams = Type.Object(
  {
    out: Type.Integer({ minimum: 1, description: 'Output channels (and the width of every DoubleConv after the first).' }),
    depth: Type.Integer({
      minimum: 1,
      maximum: 16,
      default: 3,
      description: 'Number of DoubleConvs: DoubleConv(in, out, out), then depth−1 × DoubleConv(out, out, out).',
    }),
  },
  { additionalProperties: false },
);

@block('BottomConv', {
  description: 'The bottleneck: DoubleConv(in, out, out) then depth−1 DoubleConv(out, out, out); keeps H×W, ignores the timestep.',
  params: BottomConvParams,
})
export class BottomConvBlock implements Block {
  readonly outShape: Shape3;
  private readonly layers: DoubleConv[] = [];
  private readonly inShapes: Shape3[] = [];

  constructor(
    @inject(TOKENS.Params) params: Static<typeof BottomConvParams>,
    @inject(TOKENS.BlockInput) input: BlockInput,
    @inject(TOKENS.ParamStore) store: ParamStore,
  ) {
    let shape = input.shape;
    for (let i = 1; i <= params.depth; i++) {
      const layer = new DoubleConv(store.scope(`conv${i}`), {
        inChannels: shape[2],
        midChannels: params.out,
        outChannels: params.out,
        residual: false,
      });
      this.layers.push(layer);
      this.inShapes.push(shape);
      shape = layer.outShape(shape);
    }
    this.outShape = shape;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return this.layers.reduce((h, layer) => layer.forward(h), x);
  }

  flops(): number {
    return this.layers.reduce((sum, layer, i) => sum + layer.flops(this.inShapes[i]), 0);
  }
}
