/** Calls callbacks' hooks in priority order (lower first: the EMA updates before anything samples with it). */
import type * as tf from '@tensorflow/tfjs';
import type { Callback, CallbackState, StepBatch, TrainingContext } from '../interfaces.js';

type Hook = 'onRunBegin' | 'onEpochBegin' | 'onEpochEnd' | 'onRunEnd';

export class Hooks {
  private readonly ordered: Callback[];

  constructor(callbacks: Callback[]) {
    const priority = (c: Callback) => (c as { priority?: number }).priority ?? 50;
    this.ordered = [...callbacks].sort((a, b) => priority(a) - priority(b));
  }

  async fire(hook: Hook, ctx: TrainingContext): Promise<void> {
    for (const c of this.ordered) await c[hook]?.(ctx);
  }

  async stepEnd(ctx: TrainingContext, batch: StepBatch): Promise<void> {
    for (const c of this.ordered) await c.onStepEnd?.(ctx, batch);
  }

  /** Each stateful callback's state, keyed by its path. */
  state(): Record<string, CallbackState> {
    const entries = this.ordered.map((c, i) => [key(c, i), c.state?.()] as const);
    return Object.fromEntries(entries.filter(([, state]) => state !== undefined)) as Record<string, CallbackState>;
  }

  /** Hands each stateful callback its part of a checkpoint (JSON by key, tensors by `key/name`). */
  restore(json: Record<string, unknown>, tensors: Map<string, tf.Tensor>): void {
    this.ordered.forEach((c, i) => {
      if (!c.restore) return;
      const prefix = `${key(c, i)}/`;
      const own = [...tensors].filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), t] as const);
      c.restore!({ json: json[key(c, i)], tensors: new Map(own) });
    });
  }

  dispose(): void {
    for (const c of this.ordered) c.dispose?.();
  }
}

function key(c: Callback, index: number): string {
  return c.path ?? `callback-${index}`;
}
