/** The paper's convolution unit (Conv_Doublet) and the body its Down and Up blocks share. */
import * as tf from '@tensorflow/tfjs';
import type { Shape3 } from '../interfaces.js';
import { XpError } from '../errors.js';
import { gelu } from './activations.js';
import { Conv2d } from './conv.js';
import { GroupNorm } from './norm.js';
import type { ParamStore } from './param-store.js';
import { TimeEmbeddingHead } from './time-embedding.js';

export interface DoubleConvOptions {
  inChannels: number;
  midChannels: number;
  outChannels: number;
  /** GELU(x + convs(x)) instead of convs(x); needs inChannels = outChannels. */
  residual: boolean;
}

/** conv3x3 in→mid, GroupNorm(1), GELU, conv3x3 mid→out, GroupNorm(1); optionally residual. */
export class DoubleConv {
  private readonly conv1: Conv2d;
  private readonly norm1: GroupNorm;
  private readonly conv2: Conv2d;
  private readonly norm2: GroupNorm;

  constructor(
    store: ParamStore,
    private readonly options: DoubleConvOptions,
  ) {
    const { inChannels, midChannels, outChannels, residual } = options;
    if (residual && inChannels !== outChannels) {
      throw new XpError(`a residual DoubleConv adds its input to its output, so it needs in = out channels, got ${inChannels} → ${outChannels}`);
    }
    this.conv1 = new Conv2d(store.scope('conv1'), { inChannels, outChannels: midChannels, kernelSize: 3 });
    this.norm1 = new GroupNorm(store.scope('norm1'), midChannels);
    this.conv2 = new Conv2d(store.scope('conv2'), { inChannels: midChannels, outChannels, kernelSize: 3 });
    this.norm2 = new GroupNorm(store.scope('norm2'), outChannels);
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    const hidden = gelu(this.norm1.forward(this.conv1.forward(x)));
    const convolved = this.norm2.forward(this.conv2.forward(hidden));
    return this.options.residual ? gelu(tf.add(x, convolved)) : convolved;
  }

  outShape(inShape: Shape3): Shape3 {
    return this.conv2.outShape(inShape);
  }

  flops(inShape: Shape3): number {
    return this.conv1.flops(inShape) + this.conv2.flops(this.conv1.outShape(inShape));
  }
}

export interface TimedDoubleConvsOptions {
  inChannels: number;
  /** Middle channels of the second DoubleConv. */
  midChannels: number;
  outChannels: number;
  /** Whether the first, in→in DoubleConv is residual (Up's is, Down's is not). */
  residualFirst: boolean;
  embeddingDim: number;
}

/**
 * DoubleConv(in, in, in), DoubleConv(in, mid, out), then the time-embedding head: what the
 * paper's DownSample and UpSample do after resampling.
 */
export class TimedDoubleConvs {
  private readonly first: DoubleConv;
  private readonly second: DoubleConv;
  private readonly head: TimeEmbeddingHead;

  constructor(store: ParamStore, options: TimedDoubleConvsOptions) {
    const { inChannels, midChannels, outChannels, residualFirst, embeddingDim } = options;
    this.first = new DoubleConv(store.scope('conv1'), {
      inChannels,
      midChannels: inChannels,
      outChannels: inChannels,
      residual: residualFirst,
    });
    this.second = new DoubleConv(store.scope('conv2'), { inChannels, midChannels, outChannels, residual: false });
    this.head = new TimeEmbeddingHead(store.scope('emb'), embeddingDim, outChannels);
  }

  forward(x: tf.Tensor4D, emb: tf.Tensor2D): tf.Tensor4D {
    return this.head.forward(this.second.forward(this.first.forward(x)), emb);
  }

  outShape(inShape: Shape3): Shape3 {
    return this.second.outShape(inShape);
  }

  flops(inShape: Shape3): number {
    return this.first.flops(inShape) + this.second.flops(inShape) + this.head.flops();
  }
}
