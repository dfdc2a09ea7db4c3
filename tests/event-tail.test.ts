/**
 * Reading event files as they grow (EventFileTail): from the last whole record on, a record
 * still being written waited for, records larger than a read chunk, images located in the file,
 * and resumes; scalar series; and the board's downsampling and smoothing of what was read.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SummaryWriter } from '../framework/records/tensorboard/writer.js';
import { EventFileTail, type ImageRef } from '../framework/records/tensorboard/reader.js';
import { ScalarSeries } from '../framework/records/tensorboard/scalar-series.js';
import { encodeGrayPng } from '../framework/records/png.js';
import { keptIndices, smooth } from '../app/board/downsample.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-tail-'));
let dirs = 0;
const tempDir = () => fs.mkdtempSync(path.join(tmp, `d${dirs++}-`));

interface Read {
  records: number;
  scalars: [number, string, number][];
  wallTimes: number[];
  images: ImageRef[];
  sessionStarts: number[];
}

function readNew(tail: EventFileTail): Read {
  const read: Read = { records: 0, scalars: [], wallTimes: [], images: [], sessionStarts: [] };
  read.records = tail.readNew({
    scalar: (tag, value, step, wallTime) => {
      read.scalars.push([step, tag, value]);
      read.wallTimes.push(wallTime);
    },
    image: (image) => read.images.push(image),
    sessionStart: (step) => read.sessionStarts.push(step),
  });
  return read;
}

test('each read returns only the records added since the last, with their wall times', () => {
  const writer = new SummaryWriter(tempDir());
  const tail = new EventFileTail(writer.file);
  assert.is(readNew(tail).records, 1, 'the file_version record');
  writer.scalar('loss', 0.5, 1);
  writer.scalar('loss', 0.25, 2);
  writer.flush();
  const first = readNew(tail);
  assert.equal(first.scalars, [[1, 'loss', 0.5], [2, 'loss', 0.25]]);
  assert.ok(first.wallTimes.every((t) => Math.abs(t - Date.now() / 1000) < 60), 'wall times in seconds');
  assert.is(readNew(tail).records, 0, 'nothing new');
  writer.scalar('loss', 0.125, 3);
  writer.close();
  assert.equal(readNew(tail).scalars, [[3, 'loss', 0.125]]);
  assert.is(tail.offset, fs.statSync(writer.file).size);
});

test('a record being written is waited for, then read whole once complete', () => {
  const writer = new SummaryWriter(tempDir());
  writer.scalar('loss', 1, 1);
  writer.close();
  const whole = fs.readFileSync(writer.file);
  const file = path.join(path.dirname(writer.file), 'events.out.tfevents.copy');
  const lastRecordStart = findLastRecordStart(whole);
  const tail = new EventFileTail(file);
  // Byte by byte through the last record: nothing of it shows, and no error, until it is whole.
  for (let end = lastRecordStart; end < whole.length; end += 3) {
    fs.writeFileSync(file, whole.subarray(0, end));
    assert.equal(readNew(tail).scalars, [], `${end - lastRecordStart} bytes of the record`);
    assert.is(tail.offset, lastRecordStart);
  }
  fs.writeFileSync(file, whole);
  assert.equal(readNew(tail).scalars, [[1, 'loss', 1]]);
});

/** The start of the last TFRecord: records are walked by their length fields. */
function findLastRecordStart(bytes: Buffer): number {
  let offset = 0;
  let last = 0;
  while (offset < bytes.length) {
    last = offset;
    offset += 12 + Number(bytes.readBigUInt64LE(offset)) + 4;
  }
  return last;
}

test('records larger than the read chunk are read whole; images are located in the file; resumes are marked', () => {
  const writer = new SummaryWriter(tempDir());
  const pixels = Uint8Array.from({ length: 64 * 64 }, (_, i) => (i * 7) % 256);
  const png = encodeGrayPng(pixels, 64, 64);
  writer.sessionStart(5);
  writer.image('samples', png, 64, 64, 5);
  for (let step = 5; step < 50; step++) writer.scalar('loss', step, step);
  writer.close();
  const tail = new EventFileTail(writer.file, 64); // a chunk smaller than the image record
  const read = readNew(tail);
  assert.is(tail.offset, fs.statSync(writer.file).size);
  assert.equal(read.sessionStarts, [5]);
  const [image] = read.images;
  assert.equal({ tag: image.tag, width: image.width, height: image.height, index: image.index }, { tag: 'samples', width: 64, height: 64, index: 0 });
  const stored = fs.readFileSync(writer.file).subarray(image.offset, image.offset + image.length);
  assert.ok(Buffer.from(png).equals(stored), 'the PNG bytes at the recorded place');
  assert.is(read.scalars.length, 45);
});

test('a scalar series keeps step order and lets a later point replace one at the same step', () => {
  const series = new ScalarSeries();
  for (const [step, value] of [[1, 10], [2, 20], [4, 40], [3, 30], [2, 21]]) series.set(step, value, step * 100 + value);
  assert.equal([...series.steps], [1, 2, 3, 4]);
  assert.equal([...series.values], [10, 21, 30, 40]);
  assert.equal([...series.wallTimes], [110, 221, 330, 440]);
  for (let step = 5; step < 1000; step++) series.set(step, step, step); // past the first capacity
  assert.is(series.length, 999);
  assert.equal([...series.values.subarray(0, 6)], [10, 21, 30, 40, 5, 6]);
});

test('downsampling keeps the ends and every bucket\'s extremes; smoothing is debiased', () => {
  const values = Array.from({ length: 100_000 }, (_, i) => Math.sin(i / 1000));
  values[54_321] = 50; // a spike
  const kept = keptIndices(values, 1000);
  assert.ok(kept.length <= 1000 && kept.length > 900, `${kept.length} points`);
  assert.equal([kept[0], kept.at(-1)], [0, 99_999]);
  assert.ok(kept.includes(54_321), 'the spike survives');
  assert.ok(kept.every((k, i) => i === 0 || k > kept[i - 1]), 'in order');
  assert.equal(keptIndices([3, 1, 2], 1000), [0, 1, 2]);
  assert.equal(Array.from(smooth([2, 2, 2], 0.9), (v) => Number(v.toFixed(12))), [2, 2, 2], 'a constant stays constant');
  assert.equal([...smooth([1, NaN, 3], 0.5)], [1, NaN, (0.25 * 1 + 0.5 * 3) / 0.75]);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
