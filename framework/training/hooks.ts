/** Calls callbacks' hooks in priority order (lower first: the EMA updates before anything samples with it). */
import type { Callback, StepBatch, TrainingContext } from '../interfaces.js';

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

  dispose(): void {
    for (const c of this.ordered) c.dispose?.();
  }
}
