/** 2-D convolution, NHWC, stride 1, 'same' padding. */
import * as tf from '@tensorflow/tfjs';
import type { Shape3 } from '../interfaces.js';
import { fanInUniform, type ParamStore } from './param-store.js';

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  /** The paper's convolutions have none (a GroupNorm follows each), except the output conv. */
  bias?: boolean;
}

export class Conv2d {
  private readonly kernel: tf.Variable;
  private readonly bias?: tf.Variable;

  constructor(
    store: ParamStore,
    private readonly options: Conv2dOptions,
  ) {
    const { inChannels, outChannels, kernelSize } = options;
    // PyTorch's default for both weight and bias: U(±1/sqrt(fan_in)).
    const init = fanInUniform(inChannels * kernelSize * kernelSize);
    this.kernel = store.variable('kernel', [kernelSize, kernelSize, inChannels, outChannels], init);
    if (options.bias) this.bias = store.variable('bias', [outChannels], init);
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    const y = tf.conv2d(x, this.kernel as tf.Tensor4D, 1, 'same');
    return this.bias ? tf.add(y, this.bias) : y;
  }

  outShape([h, w]: Shape3): Shape3 {
    return [h, w, this.options.outChannels];
  }

  /** Cin·Cout·k²·H·W multiply-adds, 2 FLOPs each. */
  flops([h, w]: Shape3): number {
    const { inChannels, outChannels, kernelSize } = this.options;
    return 2 * inChannels * outChannels * kernelSize * kernelSize * h * w;
  }
}
