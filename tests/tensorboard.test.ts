/**
 * The TensorBoard writer, checked by a reader written here from the .proto field numbers
 * (tensorboard/compat/proto/{event,summary,tensor,tensor_shape,histogram}.proto,
 * tensorboard/plugins/hparams/{plugin_data,api}.proto, google/protobuf/struct.proto) and its
 * own bitwise CRC-32C, so that a shared mistake in proto.ts or crc.ts cannot hide itself.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decode as decodePng } from 'fast-png';
import { maskedCrc32c } from '../framework/records/tensorboard/crc.js';
import { SummaryWriter, hparamsExperiment } from '../framework/records/tensorboard/writer.js';
import { decodeGrayPng, encodeGrayPng, imageGrid } from '../framework/records/png.js';

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const writerModule = pathToFileURL(path.join(repoRoot, 'framework/records/tensorboard/writer.ts')).href;

// ---- CRC-32C and TFRecord framing ----

function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function mask(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** Splits a TFRecord file into payloads, checking both CRCs of every record. */
function readRecords(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    if (pos + 12 > bytes.length) throw new Error(`truncated record header at ${pos}`);
    if (view.getUint32(pos + 8, true) !== mask(crc32c(bytes.subarray(pos, pos + 8)))) {
      throw new Error(`length CRC mismatch at ${pos}`);
    }
    const end = pos + 12 + Number(view.getBigUint64(pos, true));
    if (end + 4 > bytes.length) throw new Error(`truncated record at ${pos}`);
    const data = bytes.subarray(pos + 12, end);
    if (view.getUint32(end, true) !== mask(crc32c(data))) throw new Error(`data CRC mismatch at ${pos}`);
    records.push(data);
    pos = end + 4;
  }
  return records;
}

// ---- protobuf wire format ----

interface Field {
  no: number;
  varint?: bigint;
  bytes?: Uint8Array;
  fixed?: DataView;
}

function parseMessage(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= buf.length) throw new Error('varint runs past the end');
      const byte = buf[pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  const take = (n: number): number => {
    if (pos + n > buf.length) throw new Error('field runs past the end');
    pos += n;
    return pos - n;
  };
  while (pos < buf.length) {
    const key = Number(readVarint());
    const no = key >>> 3;
    switch (key & 7) {
      case 0:
        fields.push({ no, varint: readVarint() });
        break;
      case 1:
        fields.push({ no, fixed: new DataView(buf.buffer, buf.byteOffset + take(8), 8) });
        break;
      case 2: {
        const length = Number(readVarint());
        const start = take(length);
        fields.push({ no, bytes: buf.subarray(start, start + length) });
        break;
      }
      case 5:
        fields.push({ no, fixed: new DataView(buf.buffer, buf.byteOffset + take(4), 4) });
        break;
      default:
        throw new Error(`unexpected wire type ${key & 7} for field ${no}`);
    }
  }
  return fields;
}

const all = (fields: Field[], no: number) => fields.filter((f) => f.no === no);
const last = (fields: Field[], no: number) => all(fields, no).at(-1); // proto: the last one wins
const submessage = (fields: Field[], no: number) => parseMessage(last(fields, no)?.bytes ?? new Uint8Array());
const str = (fields: Field[], no: number) => new TextDecoder().decode(last(fields, no)?.bytes ?? new Uint8Array());
const num = (fields: Field[], no: number) => Number(last(fields, no)?.varint ?? 0n);
const f64 = (fields: Field[], no: number) => last(fields, no)?.fixed?.getFloat64(0, true);
const f32 = (fields: Field[], no: number) => last(fields, no)?.fixed?.getFloat32(0, true);

function packedDoubles(fields: Field[], no: number): number[] {
  const bytes = last(fields, no)?.bytes ?? new Uint8Array();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 8 }, (_, i) => view.getFloat64(i * 8, true));
}

// ---- TensorBoard messages ----

interface DecodedValue {
  tag: string;
  pluginName?: string;
  content?: Uint8Array;
  dataClass?: number;
  simpleValue?: number;
  tensor?: { dtype: number; shape: number[]; strings: Uint8Array[]; floatBytes: number };
  histo?: { min?: number; max?: number; num?: number; sum?: number; sumSquares?: number; bucketLimit: number[]; bucket: number[] };
}

interface DecodedEvent {
  wallTime?: number;
  step: number;
  fileVersion?: string;
  sessionStatus?: number;
  values?: DecodedValue[];
}

function decodeEvent(bytes: Uint8Array): DecodedEvent {
  const event = parseMessage(bytes);
  const decoded: DecodedEvent = { wallTime: f64(event, 1), step: num(event, 2) };
  if (last(event, 3)) decoded.fileVersion = str(event, 3);
  if (last(event, 5)) decoded.values = all(submessage(event, 5), 1).map((v) => decodeValue(parseMessage(v.bytes!)));
  if (last(event, 7)) decoded.sessionStatus = num(submessage(event, 7), 1);
  return decoded;
}

function decodeValue(value: Field[]): DecodedValue {
  const decoded: DecodedValue = { tag: str(value, 1) };
  if (last(value, 9)) {
    const metadata = submessage(value, 9);
    const pluginData = submessage(metadata, 1);
    decoded.pluginName = str(pluginData, 1);
    decoded.content = last(pluginData, 2)?.bytes ?? new Uint8Array();
    decoded.dataClass = num(metadata, 4);
  }
  if (last(value, 2)) decoded.simpleValue = f32(value, 2);
  if (last(value, 5)) {
    const h = submessage(value, 5);
    decoded.histo = {
      min: f64(h, 1), max: f64(h, 2), num: f64(h, 3), sum: f64(h, 4), sumSquares: f64(h, 5),
      bucketLimit: packedDoubles(h, 6), bucket: packedDoubles(h, 7),
    };
  }
  if (last(value, 8)) {
    const t = submessage(value, 8);
    decoded.tensor = {
      dtype: num(t, 1),
      shape: all(submessage(t, 2), 2).map((dim) => num(parseMessage(dim.bytes!), 1)),
      strings: all(t, 8).map((s) => s.bytes!),
      floatBytes: last(t, 5)?.bytes?.length ?? 0,
    };
  }
  return decoded;
}

type HParam = number | string | boolean | undefined;

/** google.protobuf.Value: number_value = 2, string_value = 3, bool_value = 4. */
function decodeProtobufValue(value: Field[]): HParam {
  if (last(value, 2)) return f64(value, 2);
  if (last(value, 3)) return str(value, 3);
  if (last(value, 4)) return num(value, 4) !== 0;
  return undefined;
}

function decodeHParamsPluginData(content: Uint8Array) {
  const data = parseMessage(content);
  const start = last(data, 3) && submessage(data, 3);
  const end = last(data, 4) && submessage(data, 4);
  const experiment = last(data, 2) && submessage(data, 2);
  return {
    version: num(data, 1),
    sessionStart: start && {
      hparams: Object.fromEntries(
        all(start, 1).map((entry) => {
          const fields = parseMessage(entry.bytes!);
          return [str(fields, 1), decodeProtobufValue(submessage(fields, 2))];
        }),
      ),
      groupName: str(start, 4),
      startTimeSecs: f64(start, 5),
    },
    sessionEnd: end && { status: num(end, 1), endTimeSecs: f64(end, 2) },
    experiment: experiment && {
      timeCreatedSecs: f64(experiment, 3),
      hparamInfos: all(experiment, 4).map((info) => {
        const h = parseMessage(info.bytes!);
        const interval = last(h, 6) && submessage(h, 6);
        return {
          name: str(h, 1),
          type: num(h, 4),
          discrete: last(h, 5) && all(submessage(h, 5), 1).map((v) => decodeProtobufValue(parseMessage(v.bytes!))),
          interval: interval && { min: f64(interval, 1), max: f64(interval, 2) },
        };
      }),
      metricInfos: all(experiment, 5).map((info) => {
        const m = parseMessage(info.bytes!);
        const name = submessage(m, 1);
        return { group: str(name, 1), tag: str(name, 2), displayName: str(m, 3) };
      }),
    },
  };
}

// ---- helpers ----

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'xp-tb-'));
}

function readEvents(file: string): DecodedEvent[] {
  return readRecords(fs.readFileSync(file)).map(decodeEvent);
}

/** Events after the file_version header. */
function bodyEvents(file: string): DecodedEvent[] {
  const [header, ...rest] = readEvents(file);
  assert.is(header.fileVersion, 'brain.Event:2');
  return rest;
}

function onlyValue(event: DecodedEvent): DecodedValue {
  assert.is(event.values?.length, 1);
  return event.values![0];
}

const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Runs `body` in a child node process with `writer` bound to a SummaryWriter on `logdir`. */
function runChild(logdir: string, body: string) {
  const script = `import { SummaryWriter } from ${JSON.stringify(writerModule)};
const writer = new SummaryWriter(${JSON.stringify(logdir)}, { flushSeconds: 3600 });
${body}`;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
}

// ---- tests ----

test('CRC-32C test vectors, and crc.ts agrees with the bitwise CRC here', () => {
  const digits = new TextEncoder().encode('123456789');
  assert.is(crc32c(digits), 0xe3069283);
  assert.is(mask(crc32c(digits)), 0xc78ab0e5);
  assert.is(maskedCrc32c(digits), 0xc78ab0e5);
  const noise = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) % 251);
  assert.is(maskedCrc32c(noise), mask(crc32c(noise)));
});

test('event file name and the file_version header', () => {
  const dir = tempDir();
  const first = new SummaryWriter(dir);
  const second = new SummaryWriter(dir);
  first.close();
  second.close();
  const host = os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${host}\\.${process.pid}\\.\\d+$`);
  assert.match(path.basename(first.file), pattern);
  assert.match(path.basename(second.file), pattern);
  assert.is.not(first.file, second.file);
  const events = readEvents(first.file);
  assert.is(events.length, 1);
  assert.is(events[0].fileVersion, 'brain.Event:2');
  assert.ok(Math.abs(events[0].wallTime! - Date.now() / 1000) < 60);
});

test('scalars round-trip as simple_value with their steps; beyond float32 they are infinite, NaN stays NaN', () => {
  const writer = new SummaryWriter(tempDir());
  writer.scalar('loss/train', 0.25, 1);
  writer.scalar('loss/train', 0.1, 2);
  writer.scalar('lr', 1e-4, 2);
  writer.scalar('lr', 1e39, 3);
  writer.scalar('loss/train', -1e39, 3);
  writer.scalar('loss/train', NaN, 4);
  writer.close();
  const decoded = bodyEvents(writer.file).map((e) => ({ step: e.step, ...onlyValue(e) }));
  assert.equal(decoded, [
    { step: 1, tag: 'loss/train', simpleValue: Math.fround(0.25) },
    { step: 2, tag: 'loss/train', simpleValue: Math.fround(0.1) },
    { step: 2, tag: 'lr', simpleValue: Math.fround(1e-4) },
    { step: 3, tag: 'lr', simpleValue: Infinity },
    { step: 3, tag: 'loss/train', simpleValue: -Infinity },
    { step: 4, tag: 'loss/train', simpleValue: NaN },
  ]);
});

test('an image is an images-plugin [width, height, png] tensor, on disk at once, pixels intact', () => {
  const images = [0, 1, 2].map((k) => Uint8Array.from({ length: 4 * 5 }, (_, i) => (k * 80 + i * 3) % 256));
  const grid = imageGrid(images, 3, 4, 5, { columns: 2, padding: 1, background: 255 });
  const writer = new SummaryWriter(tempDir());
  writer.image('samples', encodeGrayPng(grid.pixels, grid.width, grid.height), grid.width, grid.height, 7);

  const [event] = bodyEvents(writer.file); // no flush() or close() yet
  writer.close();
  const value = onlyValue(event);
  assert.is(event.step, 7);
  assert.is(value.tag, 'samples');
  assert.is(value.pluginName, 'images');
  assert.is(value.dataClass, 3); // DATA_CLASS_BLOB_SEQUENCE
  assert.is(value.tensor?.dtype, 7); // DT_STRING
  assert.equal(value.tensor?.shape, [3]);
  const [width, height, png] = value.tensor!.strings;
  assert.is(utf8(width), String(grid.width));
  assert.is(utf8(height), String(grid.height));
  const decoded = decodePng(png);
  assert.is(decoded.channels, 1);
  assert.is(decoded.width, grid.width);
  assert.is(decoded.height, grid.height);
  assert.equal(Array.from(decoded.data), Array.from(grid.pixels));
});

test('text is a rank-0 DT_STRING tensor for the text plugin', () => {
  const markdown = '## Config\n\n**lr** = 2e-4 — ✓';
  const writer = new SummaryWriter(tempDir());
  writer.text('config', markdown, 0);
  writer.close();
  const value = onlyValue(bodyEvents(writer.file)[0]);
  assert.is(value.tag, 'config');
  assert.is(value.pluginName, 'text');
  assert.is(value.tensor?.dtype, 7);
  assert.equal(value.tensor?.shape, []);
  assert.equal(value.tensor?.strings.map(utf8), [markdown]);
});

test('a histogram has exact moments and every value in the bucket whose limits bound it', () => {
  const values = Float32Array.from([-2, -0.5, 0, 0, 0.5, 1, 1, 3, 1e-3]);
  const writer = new SummaryWriter(tempDir());
  writer.histogram('weights', values, 3);
  writer.close();
  const histo = onlyValue(bodyEvents(writer.file)[0]).histo!;
  assert.is(histo.num, values.length);
  assert.is(histo.min, -2);
  assert.is(histo.max, 3);
  assert.is(histo.sum, values.reduce((a, v) => a + v, 0));
  assert.is(histo.sumSquares, values.reduce((a, v) => a + v * v, 0));
  assert.is(histo.bucketLimit.length, histo.bucket.length);
  assert.ok(histo.bucketLimit.every((limit, i) => i === 0 || limit > histo.bucketLimit[i - 1]));
  assert.ok(histo.bucket[0] > 0 && histo.bucket.at(-1)! > 0, 'no empty buckets at the ends');
  const expected = histo.bucket.map(() => 0);
  for (const v of values) expected[histo.bucketLimit.findIndex((limit) => limit > v)]++;
  assert.equal(histo.bucket, expected);
  // 10% buckets: the bucket holding 1 ends within 10% above it.
  const one = histo.bucketLimit.find((limit) => limit > 1)!;
  assert.ok(one <= 1.1, `bucket of 1 ends at ${one}`);
});

test('sessionStart writes SessionLog START at the resume step', () => {
  const writer = new SummaryWriter(tempDir());
  writer.sessionStart(500);
  writer.close();
  const [event] = bodyEvents(writer.file);
  assert.is(event.step, 500);
  assert.is(event.sessionStatus, 1);
  assert.is(event.values, undefined);
});

test('hparams session start and end carry the values, group, times and status', () => {
  const writer = new SummaryWriter(tempDir());
  writer.hparamsSessionStart({
    hparams: { lr: 0.001, schedule: 'cosine', ema: false, seed: 0 },
    groupName: 'lr=0.001,schedule=cosine',
    startTimeSecs: 1_700_000_000.5,
  });
  writer.hparamsSessionEnd({ status: 'success', endTimeSecs: 1_700_000_100 });

  const [start, end] = bodyEvents(writer.file); // flushed without close()
  writer.close();
  for (const [event, tag] of [[start, '_hparams_/session_start_info'], [end, '_hparams_/session_end_info']] as const) {
    const value = onlyValue(event);
    assert.is(value.tag, tag);
    assert.is(value.pluginName, 'hparams');
    assert.equal(value.tensor, { dtype: 1, shape: [0], strings: [], floatBytes: 0 }); // TensorBoard's NULL_TENSOR
  }
  const startData = decodeHParamsPluginData(onlyValue(start).content!);
  assert.is(startData.version, 0);
  assert.equal(startData.sessionStart, {
    hparams: { lr: 0.001, schedule: 'cosine', ema: false, seed: 0 },
    groupName: 'lr=0.001,schedule=cosine',
    startTimeSecs: 1_700_000_000.5,
  });
  assert.equal(decodeHParamsPluginData(onlyValue(end).content!).sessionEnd, { status: 1, endTimeSecs: 1_700_000_100 });
});

test('hparamsExperiment writes one experiment summary with domains and metrics', () => {
  const root = tempDir();
  const file = hparamsExperiment(root, {
    hparams: [
      { name: 'lr', domain: { min: 1e-4, max: 1e-2 } },
      { name: 'schedule', domain: ['linear', 'cosine'] },
      { name: 'ema', type: 'bool' },
    ],
    metrics: [{ tag: 'loss/train', displayName: 'train loss' }, { tag: 'fid', group: 'eval' }],
  });
  assert.is(path.dirname(file), root);
  const value = onlyValue(bodyEvents(file)[0]);
  assert.is(value.tag, '_hparams_/experiment');
  assert.is(value.pluginName, 'hparams');
  const { experiment } = decodeHParamsPluginData(value.content!);
  assert.ok(Math.abs(experiment!.timeCreatedSecs! - Date.now() / 1000) < 60);
  assert.equal(experiment!.hparamInfos, [
    { name: 'lr', type: 3, discrete: undefined, interval: { min: 1e-4, max: 1e-2 } },
    { name: 'schedule', type: 1, discrete: ['linear', 'cosine'], interval: undefined },
    { name: 'ema', type: 2, discrete: undefined, interval: undefined },
  ]);
  assert.equal(experiment!.metricInfos, [
    { group: '', tag: 'loss/train', displayName: 'train loss' },
    { group: 'eval', tag: 'fid', displayName: '' },
  ]);
});

test('a corrupted byte or a cut-off record is caught by the framing checks', () => {
  const writer = new SummaryWriter(tempDir());
  writer.scalar('loss', 1, 1);
  writer.close();
  const good = fs.readFileSync(writer.file);
  assert.is(readRecords(good).length, 2);
  const headerLength = 12 + Number(good.readBigUInt64LE(0)) + 4;
  const corrupt = (offset: number) => {
    const bytes = Uint8Array.from(good);
    bytes[offset] ^= 0x01;
    return bytes;
  };
  assert.throws(() => readRecords(corrupt(headerLength + 20)), /data CRC mismatch/);
  assert.throws(() => readRecords(corrupt(headerLength)), /length CRC mismatch/);
  assert.throws(() => readRecords(good.subarray(0, good.length - 3)), /truncated/);
});

test('records wait in memory until flush(), the timer or close(); close is idempotent', async () => {
  const writer = new SummaryWriter(tempDir(), { flushSeconds: 3600 });
  writer.scalar('loss', 1, 1);
  assert.is(readEvents(writer.file).length, 1);
  writer.flush();
  assert.is(readEvents(writer.file).length, 2);
  writer.scalar('loss', 0.5, 2);
  writer.close();
  writer.close();
  assert.is(readEvents(writer.file).length, 3);
  assert.throws(() => writer.scalar('loss', 0.1, 3), /closed/);

  const timed = new SummaryWriter(tempDir(), { flushSeconds: 0.05 });
  timed.scalar('loss', 1, 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.is(readEvents(timed.file).length, 2);
  timed.close();
});

test('the exit listener lives while a writer is open', () => {
  const before = process.listenerCount('exit');
  const a = new SummaryWriter(tempDir());
  const b = new SummaryWriter(tempDir());
  assert.is(process.listenerCount('exit'), before + 1);
  a.close();
  assert.is(process.listenerCount('exit'), before + 1);
  b.close();
  assert.is(process.listenerCount('exit'), before);
});

test('after SIGKILL the file holds exactly the flushed records, all intact', () => {
  const dir = tempDir();
  const child = runChild(
    dir,
    `for (let step = 0; step < 5; step++) writer.scalar('loss', 1 / (step + 1), step);
writer.flush();
writer.scalar('loss', 99, 99);
process.kill(process.pid, 'SIGKILL');`,
  );
  assert.is(child.signal, 'SIGKILL', child.stderr);
  const [file] = fs.readdirSync(dir);
  const events = bodyEvents(path.join(dir, file));
  assert.equal(events.map((e) => e.step), [0, 1, 2, 3, 4]);
});

test('a process that ends without close() still flushes through the exit hook', () => {
  const dir = tempDir();
  const child = runChild(
    dir,
    `writer.scalar('loss', 0.5, 1);
writer.text('note', 'never closed', 1);`,
  );
  assert.is(child.status, 0, child.stderr);
  const [file] = fs.readdirSync(dir);
  const events = bodyEvents(path.join(dir, file));
  assert.equal(events.map((e) => onlyValue(e).tag), ['loss', 'note']);
});

test('imageGrid lays images out in rows with padding; PNG round-trips', () => {
  const a = Uint8Array.from([1, 2, 3, 4]);
  const b = Uint8Array.from([5, 6, 7, 8]);
  const grid = imageGrid([a, b], 2, 2, 2, { columns: 2, padding: 1, background: 9 });
  assert.is(grid.width, 7);
  assert.is(grid.height, 4);
  // prettier-ignore
  assert.equal(Array.from(grid.pixels), [
    9, 9, 9, 9, 9, 9, 9,
    9, 1, 2, 9, 5, 6, 9,
    9, 3, 4, 9, 7, 8, 9,
    9, 9, 9, 9, 9, 9, 9,
  ]);
  const batch = imageGrid(Uint8Array.from([...a, ...b]), 2, 2, 2, { columns: 2, padding: 1, background: 9 });
  assert.equal(batch, grid);
  const square = imageGrid(new Uint8Array(5 * 4), 5, 2, 2); // 3 columns, 2 rows, padding 2
  assert.is(square.width, 3 * 4 + 2);
  assert.is(square.height, 2 * 4 + 2);
  assert.throws(() => imageGrid([a], 2, 2, 2), /expected 2 images/);
  assert.throws(() => imageGrid(new Uint8Array(7), 2, 2, 2), /not 2 images/);

  const decoded = decodeGrayPng(encodeGrayPng(grid.pixels, grid.width, grid.height));
  assert.is(decoded.width, 7);
  assert.is(decoded.height, 4);
  assert.equal(Array.from(decoded.pixels), Array.from(grid.pixels));
  assert.throws(() => encodeGrayPng(new Uint8Array(5), 2, 2), /5 pixels/);
});

test.run();
