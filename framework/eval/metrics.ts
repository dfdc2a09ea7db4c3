/**
 * What the classifier says about a set of images besides FID: how sure it is of each image,
 * and how evenly the images spread over the classes.
 */
import { predictedClasses, type Classified } from './classify.js';

/** An image counts as confidently classified above this top softmax probability. */
const CONFIDENT = 0.9;

export interface ClassMetrics {
  /** Mean of each image's top softmax probability. */
  confidence: number;
  /** Share of images whose top probability exceeds CONFIDENT. */
  confident: number;
  /** Entropy in bits of the predicted-class histogram: log2(classes) when every class is equally common. */
  classEntropy: number;
}

export function classMetrics(classified: Classified): ClassMetrics {
  const { n, probabilities, classes } = classified;
  let confidenceSum = 0;
  let confidentCount = 0;
  for (let i = 0; i < n; i++) {
    const top = Math.max(...probabilities.subarray(i * classes, (i + 1) * classes));
    confidenceSum += top;
    if (top > CONFIDENT) confidentCount++;
  }
  const histogram = new Array<number>(classes).fill(0);
  for (const c of predictedClasses(classified)) histogram[c]++;
  return { confidence: confidenceSum / n, confident: confidentCount / n, classEntropy: entropyBits(histogram) };
}

/** Shannon entropy in bits of a histogram of counts. */
export function entropyBits(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  let bits = 0;
  for (const count of counts) if (count > 0) bits -= (count / total) * Math.log2(count / total);
  return bits;
}
