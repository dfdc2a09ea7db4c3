/** Multi-head self-attention over tokens, laid out like torch.nn.MultiheadAttention. */
import * as tf from '@tensorflow/tfjs';
import { XpError } from '../errors.js';
import { Linear } from './linear.js';
import { zeros, type ParamStore } from './param-store.js';

export class MultiHeadAttention {
  private readonly inProjection: Linear;
  private readonly outProjection: Linear;
  private readonly headSize: number;

  constructor(
    store: ParamStore,
    readonly channels: number,
    readonly heads: number,
  ) {
    if (channels % heads !== 0) {
      throw new XpError(`${heads} attention heads do not divide ${channels} channels`);
    }
    this.headSize = channels / heads;
    // torch.nn.MultiheadAttention's initialization: Xavier-uniform in_proj weight (fan_in C,
    // fan_out 3C), zero biases, PyTorch's default for the out_proj weight.
    const xavier = { kind: 'uniform', bound: Math.sqrt(6 / (channels + 3 * channels)) } as const;
    this.inProjection = new Linear(store.scope('in_proj'), channels, 3 * channels, { weight: xavier, bias: zeros });
    this.outProjection = new Linear(store.scope('out_proj'), channels, channels, { bias: zeros });
  }

  /** Self-attention (query = key = value = tokens): [n, N, C] → [n, N, C]. */
  forward(tokens: tf.Tensor3D): tf.Tensor3D {
    const [n, count] = tokens.shape;
    // The projection's 3C outputs are [q | k | v], each split into heads of headSize, as in
    // torch. Split first, then transpose each: wasm transposes rank 5 ~50x slower than rank 4.
    const toHeads = (part: tf.Tensor3D) =>
      tf.transpose(tf.reshape(part, [n, count, this.heads, this.headSize]), [0, 2, 1, 3]) as tf.Tensor4D;
    const [q, k, v] = tf.split(this.inProjection.forward(tokens), 3, 2).map((part) => toHeads(part as tf.Tensor3D));
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(this.headSize));
    const perHead = tf.matMul(tf.softmax(scores), v);
    const joined = tf.reshape(tf.transpose(perHead, [0, 2, 1, 3]), [n, count, this.channels]) as tf.Tensor3D;
    return this.outProjection.forward(joined);
  }

  /** Projections 4·C²·N multiply-adds, scores and weighted sum 2·N²·C; `inputShape` is [N, C]. */
  flops(inputShape: readonly [number, number]): number {
    const [count] = inputShape;
    const scoresAndSum = 2 * 2 * count * count * this.channels;
    return this.inProjection.flops(inputShape) + this.outProjection.flops(inputShape) + scoresAndSum;
  }
}
