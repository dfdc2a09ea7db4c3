/**
 * One tag's records in step order, one per step, as columns of numbers (a value, its wall
 * time, ...): plain number arrays, which V8 stores unboxed. A record at a step already present
 * replaces it: a resumed run writes a new event file that repeats the steps after its
 * checkpoint, and the later write wins. Records almost always arrive in step order, so adding
 * one is a push.
 */
export class StepSeries {
  readonly steps: number[] = [];
  readonly columns: number[][];

  constructor(columnCount: number) {
    this.columns = Array.from({ length: columnCount }, () => []);
  }

  get length(): number {
    return this.steps.length;
  }

  /** One number per column. */
  set(step: number, ...values: number[]): void {
    const last = this.steps.length - 1;
    if (last < 0 || step > this.steps[last]) {
      this.steps.push(step);
      this.columns.forEach((column, c) => column.push(values[c]));
      return;
    }
    const at = firstAtOrAfter(this.steps, step);
    if (this.steps[at] === step) {
      this.columns.forEach((column, c) => (column[at] = values[c]));
    } else {
      this.steps.splice(at, 0, step);
      this.columns.forEach((column, c) => column.splice(at, 0, values[c]));
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
