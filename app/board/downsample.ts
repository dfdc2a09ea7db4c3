/**
 * Scalar curves made small enough to draw: a chart is some hundreds of pixels wide, so 100,000
 * points per tag are cut to the smallest and largest value of each of `points / 2` buckets,
 * which keeps every spike; the smoothing runs over all points first.
 */

/** The indices kept: the first and last point, and each bucket's minimum and maximum, in order. */
export function keptIndices(values: ArrayLike<number>, points: number): number[] {
  const n = values.length;
  if (n <= points) return Array.from({ length: n }, (_, i) => i);
  const buckets = Math.max(1, Math.floor((points - 2) / 2));
  const kept = [0];
  for (let b = 0; b < buckets; b++) {
    const start = 1 + Math.floor((b * (n - 2)) / buckets);
    const end = 1 + Math.floor(((b + 1) * (n - 2)) / buckets);
    let low = start;
    let high = start;
    for (let i = start; i < end; i++) {
      if (values[i] < values[low]) low = i;
      if (values[i] > values[high]) high = i;
    }
    if (start === end) continue;
    kept.push(Math.min(low, high));
    if (low !== high) kept.push(Math.max(low, high));
  }
  kept.push(n - 1);
  return kept;
}

/**
 * TensorBoard's smoothing: an exponential moving average with weight `weight` on the past,
 * debiased so that the first points are not pulled toward 0. Non-finite values pass through
 * and do not enter the average.
 */
export function smooth(values: ArrayLike<number>, weight: number): Float64Array {
  const smoothed = new Float64Array(values.length);
  let average = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Number.isFinite(value)) {
      smoothed[i] = value;
      continue;
    }
    average = average * weight + (1 - weight) * value;
    count++;
    smoothed[i] = average / (1 - weight ** count);
  }
  return smoothed;
}
