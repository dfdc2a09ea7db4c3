/**
 * One tag's records in step order, one per step. A record at a step already present replaces
 * it: a resumed run writes a new event file that repeats the steps after its checkpoint, and
 * the later write wins. Records almost always arrive in step order, so adding is a push.
 */
export class StepSeries<T> {
  readonly steps: number[] = [];
  readonly items: T[] = [];

  get length(): number {
    return this.steps.length;
  }

  set(step: number, item: T): void {
    const last = this.steps.length - 1;
    if (last < 0 || step > this.steps[last]) {
      this.steps.push(step);
      this.items.push(item);
      return;
    }
    const at = firstAtOrAfter(this.steps, step);
    if (this.steps[at] === step) {
      this.items[at] = item;
    } else {
      this.steps.splice(at, 0, step);
      this.items.splice(at, 0, item);
    }
  }
}

/** The index of the first element of `sorted` that is >= `value` (its length if none is). */
export function firstAtOrAfter(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
