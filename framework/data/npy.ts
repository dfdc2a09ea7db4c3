/**
 * NumPy .npy files of uint8: written as format version 1.0, so samples open with a plain
 * `numpy.load`, and read back in versions 1.0–3.0, as numpy.save writes them.
 */
import fs from 'node:fs';
import { writeFileAtomic } from '../fsutil.js';
import { XpError } from '../errors.js';
import { assertShape } from './idx.js';

const MAGIC = [0x93, ...Buffer.from('NUMPY')];
const VERSION = [1, 0];
/** NumPy pads the header so the data starts on a 64-byte boundary. */
const ALIGNMENT = 64;

/** Writes uint8 data of the given C-order shape as a .npy file, atomically. */
export function writeNpyUint8(path: string, shape: readonly number[], data: Uint8Array): void {
  assertShape(shape, data.length);
  writeFileAtomic(path, Buffer.concat([npyHeader(shape), data]));
}

/** A C-order uint8 array: its shape and a view on the file's bytes. */
export function readNpyUint8(path: string): { dims: number[]; data: Uint8Array } {
  const bytes = fs.readFileSync(path);
  const fail = (what: string): never => {
    throw new XpError(`${path}: ${what}`);
  };
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) fail('not a .npy file (bad magic string)');
  const major = bytes[6];
  if (![1, 2, 3].includes(major)) fail(`unknown .npy format version ${major}.${bytes[7]}`);
  // The header length takes 2 bytes in version 1.0, 4 after.
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const dataStart = 8 + lengthBytes + headerLength;
  if (bytes.length < dataStart) fail('truncated header');
  const header = bytes.toString('latin1', 8 + lengthBytes, dataStart);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  if (!descr || !['|u1', '<u1', '>u1', 'u1'].includes(descr)) fail(`the array must be uint8 ('|u1'), found dtype '${descr ?? '?'}'`);
  if (/'fortran_order'\s*:\s*True/.test(header)) fail('Fortran-order arrays are not supported; save with numpy.ascontiguousarray');
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1] ?? fail('the header has no shape');
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + dataStart, bytes.length - dataStart) };
}

function npyHeader(shape: readonly number[]): Uint8Array {
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': ${pythonTuple(shape)}, }`;
  const prefixBytes = MAGIC.length + VERSION.length + 2;
  const unpadded = prefixBytes + dict.length + 1;
  const padding = (ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT;
  const text = `${dict}${' '.repeat(padding)}\n`;
  const length = Buffer.alloc(2);
  length.writeUInt16LE(text.length);
  return Buffer.concat([Uint8Array.from([...MAGIC, ...VERSION]), length, Buffer.from(text, 'latin1')]);
}

function pythonTuple(values: readonly number[]): string {
  return values.length === 1 ? `(${values[0]},)` : `(${values.join(', ')})`;
}
