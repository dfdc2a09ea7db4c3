/**
 * Named weight sets (the EMA's, say) swapped into the model for sampling or evaluation.
 * A swap re-points each variable at another tensor's data (tfjs assign does not copy), so
 * swapping 28M parameters in and out costs no memory traffic.
 */
import * as tf from '@tensorflow/tfjs';
import type { WeightSets } from '../interfaces.js';

export const LIVE_WEIGHTS = 'model';

export class ModelWeightSets implements WeightSets {
  private readonly sets = new Map<string, Map<string, tf.Tensor>>();

  constructor(private readonly variables: Map<string, tf.Variable>) {}

  register(name: string, weights: Map<string, tf.Tensor>): void {
    if (name === LIVE_WEIGHTS) throw new Error(`'${LIVE_WEIGHTS}' names the live weights`);
    this.sets.set(name, weights);
  }

  names(): string[] {
    return [LIVE_WEIGHTS, ...this.sets.keys()];
  }

  async use<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    if (name === LIVE_WEIGHTS) return fn();
    const weights = this.sets.get(name);
    if (!weights) throw new Error(`no weight set '${name}' (have: ${this.names().join(', ')})`);
    const live = new Map([...this.variables].map(([key, v]) => [key, tf.clone(v)]));
    try {
      for (const [key, v] of this.variables) v.assign(weights.get(key)!);
      return await fn();
    } finally {
      for (const [key, v] of this.variables) v.assign(live.get(key)!);
      tf.dispose([...live.values()]);
    }
  }
}
