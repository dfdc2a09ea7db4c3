/**
 * Sample metrics with their scale. FID depends on the number of images, so every number is
 * measured at one n against one reference: the MNIST test set less n held-out images. The
 * held-out real images give the floor (what a perfect generator scores at this n) and uniform
 * pixel noise the ceiling, both at the same n and against the same reference.
 */
import type { Classifier } from '../interfaces.js';
import { loadMnist } from '../data/mnist.js';
import { Rng } from '../rng.js';
import { XpError } from '../errors.js';
import { classify } from './classify.js';
import { featureStats, frechetDistance, type FeatureStats } from './fid.js';
import { classMetrics, type ClassMetrics } from './metrics.js';

export interface SetMetrics extends ClassMetrics {
  n: number;
  fid: number;
}

/** Fixed, so floors and ceilings are the same numbers in every evaluation at a given n. */
const SPLIT_SEED = 0;
const NOISE_SEED = 1;

export class Evaluation {
  /** The held-out real images' metrics and uniform noise's, set once by `create`. */
  floor!: SetMetrics;
  ceiling!: SetMetrics;

  /** n: images per measured set; at most half the test set, so the reference keeps the larger part. */
  static async create(classifier: Classifier, n: number, height: number, width: number): Promise<Evaluation> {
    const test = loadMnist({ split: 'test' });
    if (test.height !== height || test.width !== width) {
      throw new XpError(`the classifier takes ${width}×${height} images but the MNIST test set holds ${test.width}×${test.height}`);
    }
    if (!Number.isInteger(n) || n < 2 || n > test.count / 2) {
      throw new XpError(`n must be an integer from 2 to ${test.count / 2} (the floor holds out n of the ${test.count} test images), got ${n}`);
    }
    const order = new Rng(SPLIT_SEED).shuffle(Uint32Array.from({ length: test.count }, (_, i) => i));
    const size = height * width;
    const gather = (indices: Uint32Array) => {
      const out = new Uint8Array(indices.length * size);
      indices.forEach((image, i) => out.set(test.images.subarray(image * size, (image + 1) * size), i * size));
      return out;
    };
    const rest = order.subarray(n);
    const classified = await classify(classifier, gather(rest), height, width);
    const evaluation = new Evaluation(classifier, n, height, width, featureStats(classified.features, classified.featureDim), rest.length);
    evaluation.floor = await evaluation.measure(gather(order.subarray(0, n)));
    evaluation.ceiling = await evaluation.measure(uniformNoise(n * size, new Rng(NOISE_SEED)));
    return evaluation;
  }

  private constructor(
    private readonly classifier: Classifier,
    readonly n: number,
    readonly height: number,
    readonly width: number,
    private readonly reference: FeatureStats,
    /** Test images the reference statistics summarize. */
    readonly referenceImages: number,
  ) {}

  /** FID against the reference and the class metrics of exactly n images (n × height × width pixels). */
  async measure(pixels: Uint8Array): Promise<SetMetrics> {
    const count = pixels.length / (this.height * this.width);
    if (count !== this.n) throw new XpError(`the evaluation is set up for ${this.n} images, got ${count}`);
    const classified = await classify(this.classifier, pixels, this.height, this.width);
    const fid = frechetDistance(featureStats(classified.features, classified.featureDim), this.reference);
    return { n: this.n, fid, ...classMetrics(classified) };
  }
}

function uniformNoise(length: number, rng: Rng): Uint8Array {
  return Uint8Array.from({ length }, () => rng.int(0, 255));
}
