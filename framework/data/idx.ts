/**
 * The idx format of the MNIST files: two zero bytes, a type byte, the number of
 * dimensions, each dimension as a big-endian uint32, then the data in C order, big-endian.
 * Files may be gzip-compressed (recognized by content, since users rename files).
 */
import fs from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { XpError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';

export class IdxError extends XpError {}

interface IdxArrays {
  uint8: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
}
export type IdxDtype = keyof IdxArrays;

/** An idx file's contents; `dtype` tells which typed array `data` is. */
export type IdxFile = { [D in IdxDtype]: { dtype: D; dims: number[]; data: IdxArrays[D] } }[IdxDtype];

interface IdxType {
  dtype: IdxDtype;
  bytes: number;
  /** Turns the big-endian data bytes into a native typed array. */
  decode(raw: Uint8Array): IdxArrays[IdxDtype];
}

const UINT8_CODE = 0x08;

// Single-byte types are views on the file's buffer (no copy: 47 MB of MNIST loads instantly).
const IDX_TYPES: Record<number, IdxType> = {
  [UINT8_CODE]: { dtype: 'uint8', bytes: 1, decode: (raw) => new Uint8Array(raw.buffer, raw.byteOffset, raw.length) },
  0x09: { dtype: 'int8', bytes: 1, decode: (raw) => new Int8Array(raw.buffer, raw.byteOffset, raw.length) },
  0x0b: { dtype: 'int16', bytes: 2, decode: (raw) => decodeBigEndian(raw, new Int16Array(raw.length / 2), 'getInt16') },
  0x0c: { dtype: 'int32', bytes: 4, decode: (raw) => decodeBigEndian(raw, new Int32Array(raw.length / 4), 'getInt32') },
  0x0d: { dtype: 'float32', bytes: 4, decode: (raw) => decodeBigEndian(raw, new Float32Array(raw.length / 4), 'getFloat32') },
  0x0e: { dtype: 'float64', bytes: 8, decode: (raw) => decodeBigEndian(raw, new Float64Array(raw.length / 8), 'getFloat64') },
};

function decodeBigEndian<A extends Int16Array | Int32Array | Float32Array | Float64Array>(
  raw: Uint8Array,
  out: A,
  getter: 'getInt16' | 'getInt32' | 'getFloat32' | 'getFloat64',
): A {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
  for (let i = 0; i < out.length; i++) out[i] = view[getter](i * out.BYTES_PER_ELEMENT);
  return out;
}

export function readIdx(path: string): IdxFile {
  const fail = (what: string): never => {
    throw new IdxError(`${path}: ${what}`);
  };
  let bytes: Uint8Array = readBytes(path, fail);
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (gzipped) bytes = gunzip(bytes, fail);
  const contents = gzipped ? 'the decompressed file' : 'the file';

  if (bytes.length < 4) fail(`not an idx file: ${contents} holds ${bytes.length} bytes, less than the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`not an idx file: bad magic number ${hex(bytes.subarray(0, 4))} (an idx file starts with 00 00, a type byte and the number of dimensions)`);
  }
  const type = IDX_TYPES[bytes[2]] ?? fail(`unknown idx data type ${hex(bytes.subarray(2, 3))} (known: ${knownTypes()})`);
  const rank = bytes[3];
  if (rank === 0) fail('the header declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    fail(`truncated header: ${rank} dimensions need ${headerBytes} header bytes but ${contents} holds ${bytes.length}`);
  }

  const header = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const dims = Array.from({ length: rank }, (_, i) => header.getUint32(4 + 4 * i));
  const zeroDim = dims.indexOf(0);
  if (zeroDim >= 0) fail(`dimension ${zeroDim + 1} of ${dims.join('x')} is 0`);

  const dataBytes = dims.reduce((a, b) => a * b, 1) * type.bytes;
  const heldBytes = bytes.length - headerBytes;
  if (heldBytes !== dataBytes) {
    const problem = heldBytes < dataBytes ? 'truncated' : `${heldBytes - dataBytes} trailing bytes`;
    fail(
      `${problem}: header says ${dims.join('x')} ${type.dtype} (${dataBytes} bytes of data) ` +
        `but ${contents} holds ${heldBytes} bytes after its ${headerBytes}-byte header`,
    );
  }
  return { dtype: type.dtype, dims, data: type.decode(bytes.subarray(headerBytes)) } as IdxFile;
}

/** Writes uint8 data as an idx file, atomically. */
export function writeIdx(path: string, dims: readonly number[], data: Uint8Array): void {
  assertShape(dims, data.length);
  if (dims.length > 255 || dims.some((d) => d >= 2 ** 32)) {
    throw new RangeError(`idx cannot hold shape [${dims.join(', ')}]: at most 255 dimensions, each below 2^32`);
  }
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint8(2, UINT8_CODE);
  header.setUint8(3, dims.length);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  writeFileAtomic(path, Buffer.concat([new Uint8Array(header.buffer), data]));
}

/** For writers: every dimension a positive integer and their product the data's length. */
export function assertShape(dims: readonly number[], length: number): void {
  if (!dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`shape [${dims.join(', ')}] must be positive integers`);
  }
  const elements = dims.reduce((a, b) => a * b, 1);
  if (elements !== length) {
    throw new RangeError(`shape [${dims.join(', ')}] holds ${elements} elements but the data has ${length}`);
  }
}

function readBytes(path: string, fail: (what: string) => never): Uint8Array {
  try {
    const buffer = fs.readFileSync(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
  } catch (err) {
    return fail(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function gunzip(bytes: Uint8Array, fail: (what: string) => never): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (err) {
    return fail(`corrupt gzip data (${(err as Error).message})`);
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function knownTypes(): string {
  return Object.entries(IDX_TYPES)
    .map(([code, type]) => `${hex(Uint8Array.of(Number(code)))} ${type.dtype}`)
    .join(', ');
}
