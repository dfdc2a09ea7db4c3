/**
 * Where models and blocks create their trainable variables: named by their path in the
 * experiment (`stages.down1.0.conv1.kernel`), initialized from the run's seeded generator so
 * the same seed gives the same model on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';

export type Initializer =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  /** U(-bound, bound); PyTorch's default for conv and linear layers is bound = 1/sqrt(fan_in). */
  | { kind: 'uniform'; bound: number };

export const zeros: Initializer = { kind: 'zeros' };
export const ones: Initializer = { kind: 'ones' };
export const fanInUniform = (fanIn: number): Initializer => ({ kind: 'uniform', bound: 1 / Math.sqrt(fanIn) });

export class ParamStore {
  private constructor(
    private readonly vars: Map<string, tf.Variable>,
    private readonly rng: Rng,
    readonly prefix: string,
    private readonly initialize: boolean,
  ) {}

  /** `initialize: false` leaves every variable at zero and draws nothing (a build that only checks shapes). */
  static create(rng: Rng, { initialize = true } = {}): ParamStore {
    return new ParamStore(new Map(), rng, '', initialize);
  }

  /** A view whose names start with `name.`; variables land in the same store. */
  scope(name: string): ParamStore {
    return new ParamStore(this.vars, this.rng, this.qualify(name), this.initialize);
  }

  variable(name: string, shape: number[], init: Initializer): tf.Variable {
    const fullName = this.qualify(name);
    if (this.vars.has(fullName)) throw new Error(`variable '${fullName}' is created twice`);
    // tfjs variable names are global to the engine, so the tfjs name is left unique and ours is the key.
    // tidy frees the initial-value tensor; the variable keeps the data.
    const variable = tf.tidy(() => tf.variable(tf.tensor(this.initialValues(shape, init), shape), true));
    this.vars.set(fullName, variable);
    return variable;
  }

  /** Every variable of the whole store, in creation order. */
  variables(): Map<string, tf.Variable> {
    return this.vars;
  }

  /** Number of scalars in the variables under this view's prefix. */
  count(): number {
    let total = 0;
    for (const [name, v] of this.vars) if (!this.prefix || name.startsWith(`${this.prefix}.`)) total += v.size;
    return total;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }

  private qualify(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  private initialValues(shape: number[], init: Initializer): Float32Array {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (!this.initialize) return values;
    if (init.kind === 'ones') values.fill(1);
    if (init.kind === 'uniform') for (let i = 0; i < values.length; i++) values[i] = (2 * this.rng.float() - 1) * init.bound;
    return values;
  }
}
