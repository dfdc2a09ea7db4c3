import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { readIdx, writeIdx, IdxError } from '../framework/data/idx.js';
import { readNpyUint8, writeNpyUint8 } from '../framework/data/npy.js';
import { loadMnist, mnistFiles, type MnistSet } from '../framework/data/mnist.js';
import { BatchSource, type BatchSourceOptions } from '../framework/data/batches.js';
import { XpError } from '../framework/errors.js';
import { Rng } from '../framework/rng.js';
import { Mnist } from '../components/datasets/mnist.js';
import { backendReady } from './setup.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-data-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SMALL = Uint8Array.from({ length: 24 }, (_, i) => i * 10);

/** A valid 2x3x4 uint8 idx file's bytes. */
function smallIdxBytes(): Buffer {
  const file = path.join(tmp, 'small.idx');
  writeIdx(file, [2, 3, 4], SMALL);
  return fs.readFileSync(file);
}

function writeTmp(name: string, bytes: Uint8Array): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, bytes);
  return file;
}

const train: MnistSet = loadMnist({ split: 'train' });

// ---- idx ----

test('idx: write then read gives the same dims and bytes, leaving no temp file', () => {
  const file = path.join(tmp, 'round.idx');
  writeIdx(file, [2, 3, 4], SMALL);
  assert.equal(readIdx(file), { dtype: 'uint8', dims: [2, 3, 4], data: SMALL });
  assert.equal(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-')), []);
  assert.throws(() => writeIdx(file, [5, 5], SMALL), /holds 25 elements but the data has 24/);
});

test('idx: gzip is recognized by content, with or without .gz', () => {
  const zipped = gzipSync(smallIdxBytes());
  for (const name of ['small.idx.gz', 'small-zipped.idx']) {
    assert.equal(readIdx(writeTmp(name, zipped)).data, SMALL);
  }
});

test('idx: multi-byte types are big-endian', () => {
  const header = [0, 0, 0x0b, 1, 0, 0, 0, 2];
  assert.equal(readIdx(writeTmp('int16.idx', Uint8Array.from([...header, 0xff, 0xfe, 0x01, 0x02]))).data, Int16Array.of(-2, 258));
  const doubles = Buffer.alloc(16);
  doubles.writeDoubleBE(-1.5, 0);
  doubles.writeDoubleBE(Math.PI, 8);
  const file = writeTmp('float64.idx', Buffer.concat([Uint8Array.from([0, 0, 0x0e, 1, 0, 0, 0, 2]), doubles]));
  assert.equal(readIdx(file), { dtype: 'float64', dims: [2], data: Float64Array.of(-1.5, Math.PI) });
});

const CORRUPTIONS: [string, (bytes: Buffer) => Uint8Array, RegExp][] = [
  ['bad magic', (b) => Buffer.concat([Buffer.from([1]), b.subarray(1)]), /not an idx file: bad magic number 01 00 08 03/],
  ['bad type', (b) => Buffer.concat([b.subarray(0, 2), Buffer.from([0x07]), b.subarray(3)]), /unknown idx data type 07 \(known: 08 uint8, 09 int8/],
  ['no dimensions', (b) => Buffer.concat([b.subarray(0, 3), Buffer.from([0])]), /the header declares 0 dimensions/],
  ['short header', (b) => b.subarray(0, 10), /truncated header: 3 dimensions need 16 header bytes but the file holds 10/],
  ['zero dim', (b) => Buffer.concat([b.subarray(0, 8), Buffer.alloc(4), b.subarray(12)]), /dimension 2 of 2x0x4 is 0/],
  ['truncated', (b) => b.subarray(0, b.length - 1), /truncated: header says 2x3x4 uint8 \(24 bytes of data\) but the file holds 23 bytes after its 16-byte header/],
  ['trailing', (b) => Buffer.concat([b, Buffer.from([0, 0])]), /2 trailing bytes: header says 2x3x4 uint8 \(24 bytes of data\) but the file holds 26/],
  ['tiny', () => Buffer.from([0, 0]), /holds 2 bytes, less than the 4-byte magic number/],
];

for (const [name, corrupt, reason] of CORRUPTIONS) {
  test(`idx: ${name} is an IdxError naming the file and the reason`, () => {
    const file = writeTmp(`${name.replace(' ', '-')}-idx3-ubyte`, corrupt(smallIdxBytes()));
    try {
      readIdx(file);
      assert.unreachable('a corrupt file was read');
    } catch (err) {
      assert.instance(err, IdxError);
      assert.instance(err, XpError);
      assert.ok((err as Error).message.startsWith(`${file}: `), (err as Error).message);
      assert.match((err as Error).message, reason);
    }
  });
}

test('idx: a truncated gzip file says the sizes are after decompression; a missing file is an IdxError', () => {
  const file = writeTmp('cut.gz', gzipSync(smallIdxBytes().subarray(0, 30)));
  assert.throws(() => readIdx(file), /cut\.gz: truncated: .* but the decompressed file holds 14 bytes/);
  const broken = writeTmp('broken.gz', gzipSync(smallIdxBytes()).subarray(0, 12));
  assert.throws(() => readIdx(broken), (err: Error) => err instanceof IdxError && /broken\.gz: corrupt gzip data/.test(err.message));
  assert.throws(() => readIdx(path.join(tmp, 'absent')), (err: Error) => err instanceof IdxError && /absent: cannot be read \(ENOENT\)/.test(err.message));
});

// ---- npy ----

test('npy: v1.0 header, |u1, C order, padded to 64 bytes with a final newline, then the data', () => {
  const file = path.join(tmp, 'x.npy');
  writeNpyUint8(file, [2, 3, 4], SMALL);
  const bytes = fs.readFileSync(file);
  assert.equal([...bytes.subarray(0, 8)], [0x93, ...Buffer.from('NUMPY'), 1, 0]);
  const headerLength = bytes.readUInt16LE(8);
  assert.is((10 + headerLength) % 64, 0);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  assert.ok(header.endsWith('\n'));
  assert.equal(header.trimEnd(), "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }");
  assert.equal(bytes.subarray(10 + headerLength), Buffer.from(SMALL));

  assert.equal(readNpyUint8(file), { dims: [2, 3, 4], data: SMALL });

  writeNpyUint8(file, [24], SMALL);
  assert.match(fs.readFileSync(file).toString('latin1'), /'shape': \(24,\), }/);
  assert.equal(readNpyUint8(file).dims, [24]);
});

test('npy: the reader refuses other dtypes and Fortran order, naming the file', () => {
  const header = (dict: string) => Buffer.concat([Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, dict.length, 0]), Buffer.from(dict, 'latin1')]);
  const floats = writeTmp('f.npy', header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n"));
  assert.throws(() => readNpyUint8(floats), /f\.npy: the array must be uint8 \('\|u1'\), found dtype '<f4'/);
  const fortran = writeTmp('fortran.npy', header("{'descr': '|u1', 'fortran_order': True, 'shape': (1,), }\n"));
  assert.throws(() => readNpyUint8(fortran), /fortran\.npy: Fortran-order arrays are not supported/);
  assert.throws(() => readNpyUint8(writeTmp('not.npy', SMALL)), /not\.npy: not a \.npy file/);
});

// ---- MNIST ----

test('mnist: the bundled train set is the original file, 60000 28x28 images, first label 5', () => {
  const md5 = createHash('md5').update(fs.readFileSync(mnistFiles({ split: 'train' }).images)).digest('hex');
  assert.is(md5, '6bbc9ace898e44ae57da46a324031adb');
  assert.equal([train.count, train.height, train.width], [60000, 28, 28]);
  assert.is(train.images.length, 60000 * 784);
  assert.is(train.labels.length, 60000);
  assert.equal([...train.labels.subarray(0, 5)], [5, 0, 4, 1, 9]);
  // Views on the file's own buffer: the 47 MB are never copied.
  assert.is(train.images.buffer.byteLength, 16 + 60000 * 784);
});

test('mnist: the bundled test set has 10000 images, first label 7', () => {
  const testSet = loadMnist({ split: 'test' });
  assert.equal([testSet.count, testSet.labels.length, testSet.labels[0]], [10000, 10000, 7]);
});

test('mnist: a directory of raw or gzipped files; clear errors for missing or mismatched files', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'mnist-'));
  const images = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i);
  writeIdx(path.join(dir, 'train-images-idx3-ubyte'), [3, 2, 2], images);
  assert.throws(
    () => loadMnist({ dir, split: 'train' }),
    (err: Error) => err instanceof XpError && err.message === `MNIST train files not found in ${dir}: looked for train-labels-idx1-ubyte or train-labels-idx1-ubyte.gz`,
  );
  const labels = path.join(dir, 'train-labels-idx1-ubyte');
  writeIdx(labels, [3], Uint8Array.of(1, 2, 3));
  fs.writeFileSync(`${labels}.gz`, gzipSync(fs.readFileSync(labels)));
  fs.rmSync(labels);
  assert.equal(loadMnist({ dir, split: 'train' }), { images, labels: Uint8Array.of(1, 2, 3), count: 3, height: 2, width: 2 });

  writeIdx(labels, [2], Uint8Array.of(1, 2));
  assert.throws(() => loadMnist({ dir, split: 'train' }), /holds 3 images but .*train-labels-idx1-ubyte 2 labels/);
  writeIdx(labels, [1, 2], Uint8Array.of(1, 2));
  assert.throws(() => loadMnist({ dir, split: 'train' }), /labels must be 1-d uint8, found 2-d uint8/);
  assert.throws(() => loadMnist({ dir, split: 'test' }), /looked for t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz, and t10k-labels/);
});

// ---- batches ----

/** Images of one pixel whose value is the image's number, so batches show their order. */
function numberedSource(options: Partial<BatchSourceOptions> = {}): BatchSource {
  const count = options.count ?? 200;
  return new BatchSource({
    images: Uint8Array.from({ length: count }, (_, i) => i),
    count,
    height: 1,
    width: 1,
    batchSize: 64,
    shuffle: true,
    normalize: 'minus-one-one',
    rng: new Rng(11),
    ...options,
  });
}

const imageNumbers = (x: Float32Array) => Array.from(x, (v) => Math.round((v + 1) * 127.5));

function epochOrder(source: BatchSource): number[] {
  return Array.from({ length: source.batchesPerEpoch }, () => imageNumbers(source.nextBatch().x)).flat();
}

test('batches: the paper setting is 938 batches in file order, the last of 32, standardized per image', () => {
  const source = new BatchSource({ ...train, batchSize: 64, shuffle: false, normalize: 'standardize', rng: new Rng(0) });
  assert.is(source.batchesPerEpoch, 938);
  const first = source.nextBatch();
  assert.equal([first.size, first.epoch, first.index, first.x.length], [64, 0, 0, 64 * 784]);
  for (let b = 0; b < 64; b++) {
    const image = first.x.subarray(b * 784, (b + 1) * 784);
    let sum = 0;
    let squares = 0;
    for (const v of image) sum += v;
    for (const v of image) squares += (v - sum / 784) ** 2;
    assert.ok(Math.abs(sum / 784) < 1e-5 && Math.abs(Math.sqrt(squares / 784) - 1) < 1e-5, `image ${b}`);
  }
  // File order: the brightest pixel of batch 0's first image is the first image's brightest.
  const firstImage = train.images.subarray(0, 784);
  assert.is(first.x.subarray(0, 784).indexOf(Math.max(...first.x.subarray(0, 784))), firstImage.indexOf(Math.max(...firstImage)));

  let last = first;
  for (let i = 1; i < 938; i++) last = source.nextBatch();
  assert.equal([last.size, last.epoch, last.index], [32, 0, 937]);
  const next = source.nextBatch();
  assert.equal([next.epoch, next.index], [1, 0]);
  assert.equal(next.x, first.x, 'unshuffled epochs repeat the file order');
});

test('batches: minus-one-one maps 0..255 onto [-1, 1]; a blank image standardizes to zeros', () => {
  const ramp = numberedSource({ count: 256, shuffle: false, batchSize: 256 }).nextBatch().x;
  assert.is(ramp[0], -1);
  assert.is(ramp[255], 1);
  assert.ok(ramp.every((v) => v >= -1 && v <= 1));
  const blank = new BatchSource({ images: new Uint8Array(8), count: 2, height: 2, width: 2, batchSize: 2, shuffle: false, normalize: 'standardize', rng: new Rng(0) });
  assert.equal(blank.nextBatch().x, new Float32Array(8));
});

test('batches: shuffled epochs hold every image once, in a new order each epoch, the same for the same seed', () => {
  const source = numberedSource();
  assert.is(source.batchesPerEpoch, 4);
  const epoch0 = epochOrder(source);
  const epoch1 = epochOrder(source);
  const everyImage = Array.from({ length: 200 }, (_, i) => i);
  assert.equal([...epoch0].sort((a, b) => a - b), everyImage);
  assert.equal([...epoch1].sort((a, b) => a - b), everyImage);
  assert.not.equal(epoch0, everyImage);
  assert.not.equal(epoch1, epoch0);
  const again = numberedSource();
  assert.equal([epochOrder(again), epochOrder(again)], [epoch0, epoch1]);
  assert.not.equal(epochOrder(numberedSource({ rng: new Rng(12) })), epoch0);
});

test('batches: dropLast skips the short batch', () => {
  const source = numberedSource({ dropLast: true });
  assert.is(source.batchesPerEpoch, 3);
  assert.equal(Array.from({ length: 4 }, () => source.nextBatch()).map((b) => [b.epoch, b.index, b.size]), [[0, 0, 64], [0, 1, 64], [0, 2, 64], [1, 0, 64]]);
  assert.throws(() => numberedSource({ count: 10, dropLast: true }), /fewer than one batch/);
});

test('batches: a state saved mid-epoch, through JSON, resumes with the same batches', () => {
  const original = numberedSource();
  for (let i = 0; i < 6; i++) original.nextBatch(); // into the second epoch
  const saved = JSON.parse(JSON.stringify(original.state()));
  const resumed = numberedSource({ rng: new Rng(999) });
  resumed.restore(saved);
  for (let i = 0; i < 10; i++) assert.equal(resumed.nextBatch(), original.nextBatch());

  // Saved at an epoch's very end, the next batch still starts the next epoch's order.
  const atEnd = numberedSource();
  epochOrder(atEnd);
  const fromEnd = numberedSource({ rng: new Rng(5) });
  fromEnd.restore(atEnd.state());
  assert.equal(epochOrder(fromEnd), epochOrder(atEnd));

  assert.throws(() => numberedSource({ batchSize: 32 }).restore(saved), /saved with batchSize 64, this run has 32/);
});

test('batches: each carries the labels of its own images, shuffled or not, and none where the set has none', () => {
  // Image i's one pixel is i and its label i % 7, so a batch's labels follow from its pixels.
  const labels = Uint8Array.from({ length: 200 }, (_, i) => i % 7);
  for (const shuffle of [true, false]) {
    const source = numberedSource({ labels, shuffle });
    for (let i = 0; i < 2 * source.batchesPerEpoch; i++) {
      const batch = source.nextBatch();
      assert.equal(batch.labels, Int32Array.from(imageNumbers(batch.x), (image) => image % 7));
    }
  }
  assert.is(numberedSource().nextBatch().labels, undefined);
  assert.throws(() => numberedSource({ labels: labels.subarray(1) }), /holds 200 images but 199 labels/);
});

test('mnist dataset: a shuffled batch holds the MNIST label of each of its images; the test set is the test split', () => {
  const limit = 1000;
  const mnist = new Mnist({ split: 'train', batch_size: 64, shuffle: true, normalize: 'minus-one-one', drop_last: false, limit });
  assert.is(mnist.labels.classes, 10);
  const batch = mnist.batches(new Rng(3)).nextBatch();
  const images = Buffer.from(train.images.buffer, train.images.byteOffset, limit * 784);
  const indexOf = (pixels: Uint8Array) => {
    for (let i = 0; i < limit; i++) if (images.subarray(i * 784, (i + 1) * 784).equals(pixels)) return i;
    return -1;
  };
  const shuffled = Array.from({ length: batch.size }, (_, b) => indexOf(Uint8Array.from(imageNumbers(batch.x.subarray(b * 784, (b + 1) * 784)))));
  assert.not.equal(shuffled, Array.from({ length: batch.size }, (_, b) => b), 'shuffled');
  assert.ok(shuffled.every((i) => i >= 0), 'every batch image is one of the first 1000');
  assert.equal(batch.labels, Int32Array.from(shuffled, (i) => train.labels[i]));
  const testSet = mnist.labels.testSet();
  assert.equal([testSet.count, testSet.labels[0]], [10000, 7]);
});

test('batches: toTensor gives [size, height, width, 1]', async () => {
  await backendReady;
  const source = new BatchSource({ ...train, batchSize: 4, shuffle: false, normalize: 'minus-one-one', rng: new Rng(0) });
  const batch = source.nextBatch();
  const tensor = source.toTensor(batch);
  assert.equal(tensor.shape, [4, 28, 28, 1]);
  assert.equal(tensor.dataSync(), batch.x);
  tf.dispose(tensor);
});

test.run();
