/**
 * Reading event files as they grow (EventFileTail): from the last whole record on, a record
 * still being written waited for, records larger than a read chunk, images located in the file,
 * and resumes; and the board's downsampling and smoothing of what was read.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SummaryWriter } from '../framework/records/tensorboard/writer.js';
import { EventFileTail, type DecodedEvent } from '../framework/records/tensorboard/reader.js';
import { StepSeries } from '../framework/records/tensorboard/step-series.js';
import { encodeGrayPng } from '../framework/records/png.js';
import { keptIndices, smooth } from '../app/board/downsample.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-tail-'));
let dirs = 0;
const tempDir = () => fs.mkdtempSync(path.join(tmp, `d${dirs++}-`));

function readAll(tail: EventFileTail): DecodedEvent[] {
  const events: DecodedEvent[] = [];
  tail.readNew((event) => events.push(event));
  return events;
}

const scalarsOf = (events: DecodedEvent[]) => events.flatMap((e) => e.scalars.map(({ tag, value }) => [e.step, tag, value]));

test('each read returns only the records added since the last, with their wall times', () => {
  const writer = new SummaryWriter(tempDir());
  const tail = new EventFileTail(writer.file);
  assert.is(readAll(tail).length, 1, 'the file_version record');
  writer.scalar('loss', 0.5, 1);
  writer.scalar('loss', 0.25, 2);
  writer.flush();
  const first = readAll(tail);
  assert.equal(scalarsOf(first), [[1, 'loss', 0.5], [2, 'loss', 0.25]]);
  assert.ok(first.every((e) => Math.abs(e.wallTime - Date.now() / 1000) < 60), 'wall times in seconds');
  assert.equal(readAll(tail), [], 'nothing new');
  writer.scalar('loss', 0.125, 3);
  writer.close();
  assert.equal(scalarsOf(readAll(tail)), [[3, 'loss', 0.125]]);
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
    assert.equal(scalarsOf(readAll(tail)), [], `${end - lastRecordStart} bytes of the record`);
    assert.is(tail.offset, lastRecordStart);
  }
  fs.writeFileSync(file, whole);
  assert.equal(scalarsOf(readAll(tail)), [[1, 'loss', 1]]);
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
  const events = readAll(tail);
  assert.is(tail.offset, fs.statSync(writer.file).size);
  assert.equal(events.filter((e) => e.sessionStart).map((e) => e.step), [5]);
  const [image] = events.flatMap((e) => e.images);
  assert.equal({ tag: image.tag, width: image.width, height: image.height, index: image.index }, { tag: 'samples', width: 64, height: 64, index: 0 });
  const stored = fs.readFileSync(writer.file).subarray(image.offset, image.offset + image.length);
  assert.ok(Buffer.from(png).equals(stored), 'the PNG bytes at the recorded place');
  assert.is(scalarsOf(events).length, 45);
});

test('a step series keeps step order and lets a later record replace one at the same step', () => {
  const series = new StepSeries(2);
  for (const [step, value] of [[1, 10], [2, 20], [4, 40], [3, 30], [2, 21]]) series.set(step, value, step * 100);
  assert.equal(series.steps, [1, 2, 3, 4]);
  assert.equal(series.columns, [[10, 21, 30, 40], [100, 200, 300, 400]]);
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
  assert.equal(smooth([2, 2, 2], 0.9).map((v) => Number(v.toFixed(12))), [2, 2, 2], 'a constant stays constant');
  assert.equal(smooth([1, NaN, 3], 0.5), [1, NaN, (0.25 * 1 + 0.5 * 3) / 0.75]);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
