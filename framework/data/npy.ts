/** NumPy .npy output (format version 1.0), so samples open with a plain `numpy.load`. */
import { writeFileAtomic } from '../fsutil.js';
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
