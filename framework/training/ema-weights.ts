/**
 * The math of an exponential moving average of weights, apart from when it runs (the EMA
 * callback decides that): w_ema ← β·w_ema + (1 − β)·w, β weighting the old average.
 */
import * as tf from '@tensorflow/tfjs';
import { movingAverageStep } from '../kernels/fused-kernels.js';

export class EmaWeights {
  readonly shadow: Map<string, tf.Variable>;

  constructor(source: Map<string, tf.Variable>) {
    this.shadow = new Map([...source].map(([name, v]) => [name, tf.variable(v, false)]));
  }

  copyFrom(source: Map<string, tf.Variable>): void {
    for (const [name, v] of source) this.shadow.get(name)!.assign(v);
  }

  update(source: Map<string, tf.Variable>, beta: number): void {
    tf.tidy(() => {
      for (const [name, v] of source) {
        const average = this.shadow.get(name)!;
        average.assign(movingAverageStep(average, v, beta));
      }
    });
  }

  dispose(): void {
    for (const v of this.shadow.values()) v.dispose();
  }
}
