/**
 * Reading back the sample files `xp sample` writes: a PNG grid (records/png.ts imageGrid), an
 * MNIST idx3-ubyte file or a NumPy uint8 array. Every reader returns n × h × w pixels.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeGrayPng, type GrayImage } from '../../framework/records/png.js';
import { readIdx } from '../../framework/data/idx.js';
import { readNpyUint8 } from '../../framework/data/npy.js';
import { XpError } from '../../framework/errors.js';

export interface SampleImages {
  /** n × height × width pixels, 0..255. */
  pixels: Uint8Array;
  n: number;
  height: number;
  width: number;
}

/** imageGrid's default: pixels between images and around the border. */
const GRID_PADDING = 2;

const READERS: Record<string, (file: string, height: number, width: number) => SampleImages> = {
  '.png': readPngGrid,
  '.idx': readIdxImages,
  '.npy': readNpyImages,
};

const SAMPLE_EXTENSIONS = Object.keys(READERS);

/** The images of a sample file, which must be `height` × `width` (the classifier's input). */
export function readSampleImages(file: string, height: number, width: number): SampleImages {
  const read = READERS[path.extname(file).toLowerCase()];
  if (!read) throw new XpError(`${file}: samples must be one of ${SAMPLE_EXTENSIONS.join(', ')} (as xp sample writes them)`);
  if (!fs.existsSync(file)) throw new XpError(`${file}: no such file`);
  return read(file, height, width);
}

function readPngGrid(file: string, height: number, width: number): SampleImages {
  let grid: GrayImage;
  try {
    grid = decodeGrayPng(fs.readFileSync(file));
  } catch (err) {
    throw new XpError(`${file}: ${(err as Error).message}`);
  }
  const images = splitImageGrid(grid, height, width);
  if (typeof images === 'string') throw new XpError(`${file}: ${images}`);
  return { pixels: concat(images), n: images.length, height, width };
}

/**
 * The inverse of imageGrid with its default padding: the images of a grid of h × w cells, in
 * row order. imageGrid leaves the last row's unused cells as background, so trailing cells of
 * the last row that hold nothing but background are not images. Returns why, where `grid` is
 * not such a grid.
 */
export function splitImageGrid(grid: GrayImage, h: number, w: number, padding = GRID_PADDING): Uint8Array[] | string {
  const columns = (grid.width - padding) / (w + padding);
  const rows = (grid.height - padding) / (h + padding);
  if (!Number.isInteger(columns) || !Number.isInteger(rows) || columns < 1 || rows < 1) {
    return `a ${grid.width}×${grid.height} image is not a grid of ${w}×${h} images with ${padding}-pixel padding (as xp sample writes)`;
  }
  const background = grid.pixels[0];
  const isCell = (x: number, y: number) => x % (w + padding) >= padding && y % (h + padding) >= padding;
  for (let y = 0; y < grid.height; y++) {
    for (let x = 0; x < grid.width; x++) {
      if (!isCell(x, y) && grid.pixels[y * grid.width + x] !== background) {
        return `pixel (${x}, ${y}) lies in the padding between ${w}×${h} cells but is not the background; not an xp sample grid`;
      }
    }
  }
  const cells = Array.from({ length: rows * columns }, (_, i) => cellAt(grid, i % columns, Math.floor(i / columns), h, w, padding));
  let n = cells.length;
  while (n > (rows - 1) * columns + 1 && cells[n - 1].every((p) => p === background)) n--;
  return cells.slice(0, n);
}

function cellAt(grid: GrayImage, column: number, row: number, h: number, w: number, padding: number): Uint8Array {
  const cell = new Uint8Array(h * w);
  const left = padding + column * (w + padding);
  const top = padding + row * (h + padding);
  for (let y = 0; y < h; y++) cell.set(grid.pixels.subarray((top + y) * grid.width + left, (top + y) * grid.width + left + w), y * w);
  return cell;
}

function readIdxImages(file: string, height: number, width: number): SampleImages {
  const idx = readIdx(file);
  if (idx.dtype !== 'uint8') throw new XpError(`${file}: sample images must be uint8, found ${idx.dtype}`);
  return checkedImages(file, idx.dims, idx.data, height, width);
}

function readNpyImages(file: string, height: number, width: number): SampleImages {
  const { dims, data } = readNpyUint8(file);
  return checkedImages(file, dims, data, height, width);
}

/** Accepts N × h × w or N × h × w × 1, holding exactly its data. */
function checkedImages(file: string, dims: number[], data: Uint8Array, height: number, width: number): SampleImages {
  const [n, h, w, channels = 1] = dims;
  if (dims.length < 3 || dims.length > 4 || channels !== 1 || h !== height || w !== width) {
    throw new XpError(`${file}: holds an array of shape ${dims.join('×')}; expected N×${height}×${width} (or N×${height}×${width}×1) images`);
  }
  if (data.length !== n * h * w) throw new XpError(`${file}: the shape ${dims.join('×')} needs ${n * h * w} bytes of data, found ${data.length}`);
  return { pixels: data, n, height, width };
}

function concat(images: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(images.reduce((sum, image) => sum + image.length, 0));
  images.reduce((offset, image) => (out.set(image, offset), offset + image.length), 0);
  return out;
}
