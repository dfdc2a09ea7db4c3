/**
 * Epochs of normalized float batches over an in-memory uint8 image set, with each image's
 * label where the set has labels, in file order (the paper's setting) or shuffled afresh each
 * epoch. The position and the shuffle are part of `state()`, so a resumed run sees exactly
 * the batches it would have seen.
 */
import * as tf from '@tensorflow/tfjs';
import { XpError } from '../errors.js';
import { Rng, type RngState } from '../rng.js';

/**
 * `standardize`: each image minus its mean, over its population std (the paper's);
 * `minus-one-one`: pixel / 127.5 - 1.
 */
export type Normalization = 'standardize' | 'minus-one-one';

/** Images in memory, with a class label per image where the set has them. */
export interface ImageSet {
  /** count × height × width pixels, 0..255, C order. */
  images: Uint8Array;
  /** count class labels, from 0. */
  labels?: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** An image set whose every image has its class label. */
export type LabeledImageSet = Required<ImageSet>;

export interface BatchSourceOptions extends ImageSet {
  batchSize: number;
  /** Reshuffle at each epoch's start; false keeps the file order. */
  shuffle: boolean;
  normalize: Normalization;
  /** Skip the last, smaller batch of each epoch. Default false (the paper keeps it). */
  dropLast?: boolean;
  /** Used only to shuffle, and owned by the source from then on: pass a fork. */
  rng: Rng;
}

export interface Batch {
  /** size × height × width normalized pixels. */
  x: Float32Array;
  /** The class of each image, where the source has labels. */
  labels?: Int32Array;
  size: number;
  /** Counted from 0. */
  epoch: number;
  /** The batch's place in its epoch, from 0. */
  index: number;
}

export interface BatchSourceState {
  epoch: number;
  /** The index of the next batch in `epoch` (may equal batchesPerEpoch). */
  index: number;
  /** The generator before this epoch's shuffle: enough to rebuild the permutation. */
  epochRng: RngState;
  /** Checked on restore: the same state means other batches under another setting. */
  count: number;
  batchSize: number;
  shuffle: boolean;
  dropLast: boolean;
}

type Normalizer = (pixels: Uint8Array, out: Float32Array, at: number) => void;

const NORMALIZERS: Record<Normalization, Normalizer> = {
  standardize: standardizeInto,
  'minus-one-one': (pixels, out, at) => {
    for (let i = 0; i < pixels.length; i++) out[at + i] = pixels[i] / 127.5 - 1;
  },
};

export class BatchSource {
  readonly batchesPerEpoch: number;
  /** Images in a full batch. */
  readonly batchSize: number;
  private readonly pixelsPerImage: number;
  private readonly dropLast: boolean;
  private rng: Rng;
  private epoch = 0;
  private index = 0;
  private epochRng!: RngState;
  private order!: Uint32Array;

  constructor(private readonly options: BatchSourceOptions) {
    const { images, labels, count, height, width, batchSize } = options;
    this.pixelsPerImage = height * width;
    if (images.length !== count * this.pixelsPerImage) {
      throw new XpError(`the image set holds ${images.length} pixels, not ${count} images of ${height}x${width}`);
    }
    if (labels && labels.length !== count) throw new XpError(`the image set holds ${count} images but ${labels.length} labels`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new XpError(`batch size must be a positive integer, got ${batchSize}`);
    this.dropLast = options.dropLast ?? false;
    this.batchSize = batchSize;
    this.batchesPerEpoch = this.dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
    if (this.batchesPerEpoch === 0) {
      throw new XpError(`no batches: ${count} images are fewer than one batch of ${batchSize} and the last batch is dropped`);
    }
    this.rng = options.rng;
    this.startEpoch(0);
  }

  nextBatch(): Batch {
    if (this.index === this.batchesPerEpoch) this.startEpoch(this.epoch + 1);
    const { images, labels, count, batchSize, normalize } = this.options;
    const first = this.index * batchSize;
    const size = Math.min(batchSize, count - first);
    const n = this.pixelsPerImage;
    const x = new Float32Array(size * n);
    const order = this.order.subarray(first, first + size);
    order.forEach((image, b) => NORMALIZERS[normalize](images.subarray(image * n, (image + 1) * n), x, b * n));
    const batch: Batch = { x, size, epoch: this.epoch, index: this.index++ };
    // int32: what tf.oneHot and sparse losses take.
    if (labels) batch.labels = Int32Array.from(order, (image) => labels[image]);
    return batch;
  }

  /** A batch as a [size, height, width, 1] tensor (NHWC); the caller disposes it. */
  toTensor(batch: Batch): tf.Tensor4D {
    return tf.tensor4d(batch.x, [batch.size, this.options.height, this.options.width, 1]);
  }

  state(): BatchSourceState {
    const { count, batchSize, shuffle } = this.options;
    return { epoch: this.epoch, index: this.index, epochRng: this.epochRng, count, batchSize, shuffle, dropLast: this.dropLast };
  }

  restore(state: BatchSourceState): void {
    const { count, batchSize, shuffle } = this.options;
    const mine = { count, batchSize, shuffle, dropLast: this.dropLast };
    for (const [key, value] of Object.entries(mine)) {
      const saved = state[key as keyof typeof mine];
      if (saved !== value) throw new XpError(`cannot resume the data order: it was saved with ${key} ${saved}, this run has ${value}`);
    }
    if (!Number.isInteger(state.index) || state.index < 0 || state.index > this.batchesPerEpoch) {
      throw new XpError(`cannot resume the data order: batch ${state.index} is outside an epoch of ${this.batchesPerEpoch}`);
    }
    this.rng = Rng.fromState(state.epochRng);
    this.startEpoch(state.epoch);
    this.index = state.index;
  }

  /** Each epoch shuffles the file order afresh, so the epoch's start state alone rebuilds it. */
  private startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.index = 0;
    this.epochRng = this.rng.state();
    this.order = Uint32Array.from({ length: this.options.count }, (_, i) => i);
    if (this.options.shuffle) this.rng.shuffle(this.order);
  }
}

/** Mean 0, population std 1 over the image; a blank image (std 0) becomes all zeros. */
function standardizeInto(pixels: Uint8Array, out: Float32Array, at: number): void {
  let sum = 0;
  for (let i = 0; i < pixels.length; i++) sum += pixels[i];
  const mean = sum / pixels.length;
  let squares = 0;
  for (let i = 0; i < pixels.length; i++) squares += (pixels[i] - mean) ** 2;
  const std = Math.sqrt(squares / pixels.length);
  const scale = std > 0 ? 1 / std : 1;
  for (let i = 0; i < pixels.length; i++) out[at + i] = (pixels[i] - mean) * scale;
}
