/**
 * Reads the scalar curves back out of TensorBoard event files: ours (writer.ts) and any other
 * writer's that logs scalars as Summary.Value.simple_value (TensorBoard's Python summary_v1,
 * PyTorch, tensorboardX).
 *
 * Field numbers follow tensorboard/compat/proto/event.proto (Event.step = 2, Event.summary = 5)
 * and summary.proto (Summary.value = 1; Value.tag = 1, Value.simple_value = 2). Every other
 * field is skipped, so images, text, histograms and hparams records pass through unread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { XpError } from '../../errors.js';
import { maskedCrc32c } from './crc.js';

export interface ScalarPoint {
  step: number;
  /** The logged float32, exactly. */
  value: number;
}

/** Each tag's points, sorted by step, one point per step. */
export type Scalars = Map<string, ScalarPoint[]>;

interface TaggedValue {
  tag: string;
  value: number;
}

/** TFRecord framing: u64 length, masked CRC of those 8 bytes, data, masked CRC of the data. */
const LENGTH_BYTES = 8;
const CRC_BYTES = 4;
const HEADER_BYTES = LENGTH_BYTES + CRC_BYTES;

/**
 * The event files directly in `dir` (TensorBoard's test: the name contains "tfevents"), in the
 * order they were written: the names start with a zero-padded Unix time, and numeric collation
 * also orders the per-process counter at their end (.9 before .10).
 */
export function eventFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.includes('tfevents'))
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name) => path.join(dir, name));
}

/**
 * The scalars of a run folder's event files, merged: a resumed run writes a new file that
 * repeats the steps after its checkpoint, so at equal steps the later file wins.
 */
export function readScalars(dir: string): Scalars {
  const byTag = new Map<string, Map<number, number>>();
  for (const file of eventFiles(dir)) {
    for (const { step, tag, value } of fileScalars(file)) {
      let points = byTag.get(tag);
      if (!points) byTag.set(tag, (points = new Map()));
      points.set(step, value);
    }
  }
  const scalars: Scalars = new Map();
  for (const [tag, points] of byTag) {
    scalars.set(tag, [...points].map(([step, value]) => ({ step, value })).sort((a, b) => a.step - b.step));
  }
  return scalars;
}

/** Every scalar point of one event file, in the order written (repeats included). */
export function* fileScalars(file: string): Generator<TaggedValue & { step: number }> {
  for (const { event } of fileEvents(file)) {
    for (const value of event.values) yield { step: event.step, ...value };
  }
}

/** Each complete record of an event file: its framed bytes and the Event's step and scalars. */
export function* fileEvents(file: string): Generator<{ framed: Uint8Array; event: { step: number; values: TaggedValue[] } }> {
  const bytes = fs.readFileSync(file);
  for (const { offset, data } of records(bytes, file)) {
    let event: { step: number; values: TaggedValue[] };
    try {
      event = decodeEvent(data);
    } catch (err) {
      // The CRC matched, so these bytes are what the writer wrote: not an Event at all.
      throw new XpError(`${file}: the record at byte ${offset} is not a TensorBoard Event (${(err as Error).message})`);
    }
    yield { framed: bytes.subarray(offset, offset + HEADER_BYTES + data.length + CRC_BYTES), event };
  }
}

/**
 * The payloads of a TFRecord file with both CRCs checked. A record cut short at the end of the
 * file is what a writer killed mid-append leaves, so it ends the file quietly; a CRC mismatch in
 * a complete record is corruption and an error.
 */
function* records(bytes: Uint8Array, file: string): Generator<{ offset: number; data: Uint8Array }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 0; offset + HEADER_BYTES <= bytes.length; ) {
    if (view.getUint32(offset + LENGTH_BYTES, true) !== maskedCrc32c(bytes.subarray(offset, offset + LENGTH_BYTES))) {
      throw corruptRecord(file, offset, 'length');
    }
    const start = offset + HEADER_BYTES;
    const end = start + Number(view.getBigUint64(offset, true));
    if (end + CRC_BYTES > bytes.length) return;
    const data = bytes.subarray(start, end);
    if (view.getUint32(end, true) !== maskedCrc32c(data)) throw corruptRecord(file, offset, 'data');
    yield { offset, data };
    offset = end + CRC_BYTES;
  }
}

function corruptRecord(file: string, offset: number, part: 'length' | 'data'): XpError {
  return new XpError(`${file}: corrupt event record at byte ${offset} (the CRC of its ${part} does not match)`);
}

function decodeEvent(bytes: Uint8Array): { step: number; values: TaggedValue[] } {
  const reader = new BinaryReader(bytes);
  let step = 0;
  const values: TaggedValue[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 2 && wireType === WireType.Varint) step = Number(reader.int64());
    // A message field that occurs twice is merged; for Summary that appends the values.
    else if (fieldNo === 5 && wireType === WireType.LengthDelimited) values.push(...decodeSummary(reader.bytes()));
    else reader.skip(wireType, fieldNo);
  }
  return { step, values };
}

function decodeSummary(bytes: Uint8Array): TaggedValue[] {
  const reader = new BinaryReader(bytes);
  const values: TaggedValue[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) {
      const value = decodeValue(reader.bytes());
      if (value) values.push(value);
    } else {
      reader.skip(wireType, fieldNo);
    }
  }
  return values;
}

/** A Summary.Value holding a simple_value; undefined for images, text, histograms and tensors. */
function decodeValue(bytes: Uint8Array): TaggedValue | undefined {
  const reader = new BinaryReader(bytes);
  let tag = '';
  let value: number | undefined;
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) tag = reader.string();
    else if (fieldNo === 2 && wireType === WireType.Bit32) value = reader.float();
    else reader.skip(wireType, fieldNo);
  }
  return value === undefined ? undefined : { tag, value };
}
