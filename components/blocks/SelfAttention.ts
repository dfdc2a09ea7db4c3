import { block, gelu, inject, LayerNorm, Linear, MultiHeadAttention, tf, TOKENS, Type } from '../../index.js';
import type { Block, BlockInput, ParamStore, Shape3, Static } from '../../index.js';

const SelfAttentionParams = Type.Object(
  {
    heads: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 4,
      description: 'Attention heads; must divide the input channels.',
    }),
  },
  { additionalProperties: false },
);

@block('SelfAttention', {
  description:
    'Self-attention over the H·W positions, the paper\'s: ff = LayerNorm, Linear, GELU, Linear (one ff, used twice); ' +
    'a = MHA(ff(x)) + x; out = ff(a) + a. Channels come from the input; keeps the shape.',
  params: SelfAttentionParams,
})
export class SelfAttentionBlock implements Block {
  readonly outShape: Shape3;
  private readonly norm: LayerNorm;
  private readonly linear1: Linear;
  private readonly linear2: Linear;
  private readonly attention: MultiHeadAttention;

  constructor(
    @inject(TOKENS.Params) params: Static<typeof SelfAttentionParams>,
    @inject(TOKENS.BlockInput) input: BlockInput,
    @inject(TOKENS.ParamStore) store: ParamStore,
  ) {
    const channels = input.shape[2];
    this.norm = new LayerNorm(store.scope('ff.norm'), channels);
    this.linear1 = new Linear(store.scope('ff.linear1'), channels, channels);
    this.linear2 = new Linear(store.scope('ff.linear2'), channels, channels);
    this.attention = new MultiHeadAttention(store.scope('mha'), channels, params.heads);
    this.outShape = input.shape;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    const [n, h, w, channels] = x.shape;
    const tokens = tf.reshape(x, [n, h * w, channels]) as tf.Tensor3D;
    const attended: tf.Tensor3D = tf.add(this.attention.forward(this.feedForward(tokens)), tokens);
    return tf.reshape(tf.add(this.feedForward(attended), attended), x.shape);
  }

  flops(): number {
    const [h, w, channels] = this.outShape;
    const tokens: [number, number] = [h * w, channels];
    const feedForward = this.linear1.flops(tokens) + this.linear2.flops(tokens);
    return this.attention.flops(tokens) + 2 * feedForward;
  }

  private feedForward(tokens: tf.Tensor3D): tf.Tensor3D {
    return this.linear2.forward(gelu(this.linear1.forward(this.norm.forward(tokens))));
  }
}
