/** 8-bit grayscale PNG encoding and sample-grid layout (pure JS, through fast-png). */
import { decode, encode } from 'fast-png';

export interface GrayImage {
  /** Row-major, one byte per pixel. */
  pixels: Uint8Array;
  width: number;
  height: number;
}

export interface GridOptions {
  /** Images per row; defaults to a near-square grid. */
  columns?: number;
  /** Pixels between images and around the border. */
  padding?: number;
  /** Gray level of the padding. */
  background?: number;
}

export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  if (pixels.length !== width * height) {
    throw new RangeError(`encodeGrayPng: ${pixels.length} pixels do not make a ${width}x${height} image`);
  }
  return encode({ width, height, data: pixels, channels: 1, depth: 8 });
}

/** `pixels`: row-major, three bytes (red, green, blue) per pixel. */
export function encodeRgbPng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  if (pixels.length !== width * height * 3) {
    throw new RangeError(`encodeRgbPng: ${pixels.length} bytes do not make a ${width}x${height} RGB image`);
  }
  return encode({ width, height, data: pixels, channels: 3, depth: 8 });
}

export function decodeGrayPng(png: Uint8Array): GrayImage {
  const { width, height, data, channels, depth } = decode(png);
  if (channels !== 1 || depth !== 8 || !(data instanceof Uint8Array)) {
    throw new Error(`decodeGrayPng: expected 8-bit grayscale, got ${channels} channel(s) of ${depth} bits`);
  }
  return { pixels: data, width, height };
}

/**
 * Lays out `n` images of h×w in rows of `columns`, with `padding` pixels between them and
 * around the border (like torchvision's make_grid). `images` is either one array per image or
 * one array of n*h*w pixels, as a batch tensor's dataSync() returns.
 */
export function imageGrid(
  images: Uint8Array[] | Uint8Array,
  n: number,
  h: number,
  w: number,
  { columns = Math.ceil(Math.sqrt(n)), padding = 2, background = 0 }: GridOptions = {},
): GrayImage {
  if (n < 1 || columns < 1) throw new RangeError(`imageGrid: needs at least one image and one column`);
  const imageAt = splitImages(images, n, h * w);
  const cols = Math.min(columns, n);
  const rows = Math.ceil(n / cols);
  const width = cols * (w + padding) + padding;
  const height = rows * (h + padding) + padding;
  const pixels = new Uint8Array(width * height).fill(background);
  for (let i = 0; i < n; i++) {
    const left = padding + (i % cols) * (w + padding);
    const top = padding + Math.floor(i / cols) * (h + padding);
    const image = imageAt(i);
    for (let y = 0; y < h; y++) pixels.set(image.subarray(y * w, (y + 1) * w), (top + y) * width + left);
  }
  return { pixels, width, height };
}

/** Returns an accessor for image i, after checking that every image has `size` pixels. */
function splitImages(images: Uint8Array[] | Uint8Array, n: number, size: number): (i: number) => Uint8Array {
  if (images instanceof Uint8Array) {
    if (images.length !== n * size) throw new RangeError(`imageGrid: ${images.length} pixels is not ${n} images of ${size}`);
    return (i) => images.subarray(i * size, (i + 1) * size);
  }
  if (images.length !== n || images.some((image) => image.length !== size)) {
    throw new RangeError(`imageGrid: expected ${n} images of ${size} pixels each`);
  }
  return (i) => images[i];
}
