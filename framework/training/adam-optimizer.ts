/**
 * tfjs's AdamOptimizer with each variable's update done by one fused kernel where the backend
 * has them (wasm, cpu; see fused-kernels.ts): tfjs runs ~12 kernels per variable, ~18 ms of
 * serial work per quick-start step on wasm, while the worker threads wait. The state and its
 * checkpoint form (getWeights/setWeights) stay tfjs's own, so runs resume on any backend.
 */
import * as tf from '@tensorflow/tfjs';
import { adamStep, hasFusedKernels } from '../kernels/fused-kernels.js';

/** AdamOptimizer's private state (tfjs 4.22), which the fused update must keep as tfjs does. */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(gradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const state = this as unknown as AdamState;
    if (!hasFusedKernels() || Array.isArray(gradients)) {
      // tfjs multiplies accBeta by beta on the device each step, while setWeights recomputes it
      // with pow: set it from the step count, so a resumed run (on webgpu, say) matches exactly.
      if (state.accBeta1) this.setBetaPowers(state, this.iterations + 1);
      super.applyGradients(gradients);
      return;
    }
    // tfjs keeps accBeta = beta^(iterations + 1): the bias corrections of this step.
    const step = {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      correction1: 1 - this.beta1 ** (this.iterations + 1),
      correction2: 1 - this.beta2 ** (this.iterations + 1),
    };
    Object.entries(gradients).forEach(([name, gradient], i) => {
      const value = tf.engine().registeredVariables[name];
      const m = (state.accumulatedFirstMoment[i] ??= moment(value, `${name}/m`)).variable;
      const v = (state.accumulatedSecondMoment[i] ??= moment(value, `${name}/v`)).variable;
      const updated = adamStep(value, m, v, gradient, step)!;
      [value, m, v].forEach((target, k) => target.assign(updated[k]));
      tf.dispose(updated);
    });
    this.setBetaPowers(state, this.iterations + 2);
    this.incrementIterations();
  }

  /** accBeta1/2 = beta^power, from the step count rather than a product kept on the device. */
  private setBetaPowers(state: AdamState, power: number): void {
    tf.tidy(() => {
      state.accBeta1.assign(tf.scalar(this.beta1 ** power));
      state.accBeta2.assign(tf.scalar(this.beta2 ** power));
    });
  }
}

function moment(like: tf.Variable, originalName: string): { originalName: string; variable: tf.Variable } {
  return { originalName, variable: tf.tidy(() => tf.zerosLike(like).variable(false)) };
}
