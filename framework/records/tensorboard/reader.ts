/**
 * Reads scalars and images back out of TensorBoard event files: ours (writer.ts) and any other
 * writer's that logs scalars as Summary.Value.simple_value and images through the images
 * plugin or Summary.Image (TensorBoard's Python summary_v1, PyTorch, tensorboardX), whole
 * (readScalars) or as the file grows (EventFileTail).
 *
 * Field numbers follow tensorboard/compat/proto/event.proto (Event.wall_time = 1, step = 2,
 * summary = 5, session_log = 7), summary.proto (Summary.value = 1; Value.tag = 1,
 * simple_value = 2, image = 4, tensor = 8, metadata = 9) and tensor.proto (string_val = 8).
 * Every other field is skipped, so text, histograms and hparams records pass through unread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { XpError } from '../../errors.js';
import { maskedCrc32c } from './crc.js';
import { SessionStatus } from './proto.js';
import { StepSeries } from './step-series.js';

export interface ScalarPoint {
  step: number;
  /** The logged float32, exactly. */
  value: number;
}

/** Each tag's points, sorted by step, one point per step. */
export type Scalars = Map<string, ScalarPoint[]>;

export interface TaggedValue {
  tag: string;
  value: number;
}

/** Where one recorded image's PNG bytes lie in its event file, so that it is read only when shown. */
export interface ImageRef {
  tag: string;
  /** The image's place among those logged under the tag at the same step. */
  index: number;
  width: number;
  height: number;
  file: string;
  offset: number;
  length: number;
}

/** What xp reads of an Event: its step and time, scalars, images, and whether it marks a (re)start. */
export interface DecodedEvent {
  step: number;
  /** Seconds since the Unix epoch. */
  wallTime: number;
  scalars: TaggedValue[];
  images: ImageRef[];
  /** A SessionLog START: `xp run --resume` writes one at the step it resumes from. */
  sessionStart: boolean;
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
  const byTag = new Map<string, StepSeries>();
  for (const file of eventFiles(dir)) {
    new EventFileTail(file).readNew((event) => {
      for (const { tag, value } of event.scalars) {
        let series = byTag.get(tag);
        if (!series) byTag.set(tag, (series = new StepSeries(1)));
        series.set(event.step, value);
      }
    });
  }
  const scalars: Scalars = new Map();
  for (const [tag, { steps, columns }] of byTag) scalars.set(tag, steps.map((step, i) => ({ step, value: columns[0][i] })));
  return scalars;
}

/**
 * An event file read as it grows: each readNew() decodes the whole records appended since the
 * previous one, with both CRCs checked. A record cut short at the end is what a writer leaves
 * mid-append (or killed mid-append), so it is left for a later call rather than reported; a CRC
 * mismatch in a complete record is corruption and an error. The file is read in chunks, so a
 * large file never sits in memory whole.
 */
export class EventFileTail {
  /** Where the next record starts: the end of the last whole record read. */
  offset = 0;
  /** Tags whose metadata named the images plugin: later values may carry the tensor alone. */
  private readonly imageTags = new Set<string>();

  constructor(
    readonly file: string,
    private readonly chunkBytes = 8 << 20,
  ) {}

  /** Calls `visit` with each new event, in file order; returns how many there were. */
  readNew(visit: (event: DecodedEvent) => void): number {
    // O_NOFOLLOW: an event file that is a symbolic link is not read through.
    const fd = fs.openSync(this.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const size = fs.fstatSync(fd).size;
      let count = 0;
      let wanted = this.chunkBytes;
      while (this.offset < size) {
        const bytes = readAt(fd, this.offset, Math.min(wanted, size - this.offset));
        const { records: found, consumed, nextRecordBytes } = splitRecords(bytes, this.file, this.offset);
        for (const { offset, data } of found) {
          visit(this.decode(data, offset, (part) => this.offset + part.byteOffset - bytes.byteOffset));
          count++;
        }
        this.offset += consumed;
        if (consumed > 0) {
          wanted = this.chunkBytes;
        } else {
          // The next record is longer than the chunk, or still being written.
          if (nextRecordBytes === undefined || this.offset + nextRecordBytes > size) break;
          wanted = nextRecordBytes;
        }
      }
      return count;
    } finally {
      fs.closeSync(fd);
    }
  }

  private decode(data: Uint8Array, offset: number, fileOffsetOf: (part: Uint8Array) => number): DecodedEvent {
    try {
      return decodeEvent(data, { file: this.file, imageTags: this.imageTags, fileOffsetOf });
    } catch (err) {
      // The CRC matched, so these bytes are what the writer wrote: not an Event at all.
      throw new XpError(`${this.file}: the record at byte ${offset} is not a TensorBoard Event (${(err as Error).message})`);
    }
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let done = 0; done < length; ) {
    const read = fs.readSync(fd, bytes, done, length - done, position + done);
    if (read === 0) return bytes.subarray(0, done); // truncated since fstat
    done += read;
  }
  return bytes;
}

interface Split {
  records: { offset: number; data: Uint8Array }[];
  /** Bytes of whole records at the start of `bytes`. */
  consumed: number;
  /** The full size of the record that starts after them, when its length could be read. */
  nextRecordBytes?: number;
}

/** The whole TFRecords at the start of `bytes` (which start at byte `base` of `file`), CRCs checked. */
function splitRecords(bytes: Uint8Array, file: string, base: number): Split {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Split['records'] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    if (view.getUint32(offset + LENGTH_BYTES, true) !== maskedCrc32c(bytes.subarray(offset, offset + LENGTH_BYTES))) {
      throw corruptRecord(file, base + offset, 'length');
    }
    const start = offset + HEADER_BYTES;
    const end = start + Number(view.getBigUint64(offset, true));
    if (end + CRC_BYTES > bytes.length) return { records, consumed: offset, nextRecordBytes: end + CRC_BYTES - offset };
    const data = bytes.subarray(start, end);
    if (view.getUint32(end, true) !== maskedCrc32c(data)) throw corruptRecord(file, base + offset, 'data');
    records.push({ offset: base + offset, data });
    offset = end + CRC_BYTES;
  }
  return { records, consumed: offset };
}

function corruptRecord(file: string, offset: number, part: 'length' | 'data'): XpError {
  return new XpError(`${file}: corrupt event record at byte ${offset} (the CRC of its ${part} does not match)`);
}

interface DecodeContext {
  file: string;
  imageTags: Set<string>;
  /** Where a subarray of the record lies in the file. */
  fileOffsetOf: (part: Uint8Array) => number;
}

function decodeEvent(bytes: Uint8Array, context: DecodeContext): DecodedEvent {
  const reader = new BinaryReader(bytes);
  const event: DecodedEvent = { step: 0, wallTime: 0, scalars: [], images: [], sessionStart: false };
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.Bit64) event.wallTime = reader.double();
    else if (fieldNo === 2 && wireType === WireType.Varint) event.step = Number(reader.int64());
    // A message field that occurs twice is merged; for Summary that appends the values.
    else if (fieldNo === 5 && wireType === WireType.LengthDelimited) decodeSummary(reader.bytes(), event, context);
    else if (fieldNo === 7 && wireType === WireType.LengthDelimited) event.sessionStart ||= isSessionStart(reader.bytes());
    else reader.skip(wireType, fieldNo);
  }
  return event;
}

function decodeSummary(bytes: Uint8Array, event: DecodedEvent, context: DecodeContext): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) decodeValue(reader.bytes(), event, context);
    else reader.skip(wireType, fieldNo);
  }
}

/**
 * A Summary.Value: a simple_value scalar, or images (the images plugin's DT_STRING tensor
 * [width, height, png...], or the legacy Summary.Image); text, histograms and other tensors
 * are skipped.
 */
function decodeValue(bytes: Uint8Array, event: DecodedEvent, context: DecodeContext): void {
  const reader = new BinaryReader(bytes);
  let tag = '';
  let value: number | undefined;
  let tensorStrings: Uint8Array[] = [];
  let legacyImage: ReturnType<typeof decodeLegacyImage> | undefined;
  let isImages = false;
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) tag = reader.string();
    else if (fieldNo === 2 && wireType === WireType.Bit32) value = reader.float();
    else if (fieldNo === 4 && wireType === WireType.LengthDelimited) legacyImage = decodeLegacyImage(reader.bytes());
    else if (fieldNo === 8 && wireType === WireType.LengthDelimited) tensorStrings = tensorStringValues(reader.bytes());
    else if (fieldNo === 9 && wireType === WireType.LengthDelimited) isImages = pluginName(reader.bytes()) === 'images';
    else reader.skip(wireType, fieldNo);
  }
  if (value !== undefined) event.scalars.push({ tag, value });
  if (isImages) context.imageTags.add(tag);
  const locate = (png: Uint8Array, index: number, width: number, height: number): ImageRef => ({
    tag,
    index,
    width,
    height,
    file: context.file,
    offset: context.fileOffsetOf(png),
    length: png.length,
  });
  if (legacyImage) event.images.push(locate(legacyImage.png, 0, legacyImage.width, legacyImage.height));
  if (context.imageTags.has(tag) && tensorStrings.length >= 3) {
    const [width, height] = tensorStrings.slice(0, 2).map((s) => Number(new TextDecoder().decode(s)));
    tensorStrings.slice(2).forEach((png, index) => event.images.push(locate(png, index, width, height)));
  }
}

/** TensorProto.string_val (field 8). */
function tensorStringValues(bytes: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(bytes);
  const strings: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 8 && wireType === WireType.LengthDelimited) strings.push(reader.bytes());
    else reader.skip(wireType, fieldNo);
  }
  return strings;
}

/** Summary.Image: height = 1, width = 2, encoded_image_string = 4. */
function decodeLegacyImage(bytes: Uint8Array): { width: number; height: number; png: Uint8Array } {
  const reader = new BinaryReader(bytes);
  const image: { width: number; height: number; png: Uint8Array } = { width: 0, height: 0, png: new Uint8Array() };
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.Varint) image.height = reader.int32();
    else if (fieldNo === 2 && wireType === WireType.Varint) image.width = reader.int32();
    else if (fieldNo === 4 && wireType === WireType.LengthDelimited) image.png = reader.bytes();
    else reader.skip(wireType, fieldNo);
  }
  return image;
}

/** SummaryMetadata.plugin_data (1) .plugin_name (1). */
function pluginName(bytes: Uint8Array): string | undefined {
  const reader = new BinaryReader(bytes);
  let name: string | undefined;
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) {
      const plugin = new BinaryReader(reader.bytes());
      while (plugin.pos < plugin.len) {
        const [pluginField, pluginWire] = plugin.tag();
        if (pluginField === 1 && pluginWire === WireType.LengthDelimited) name = plugin.string();
        else plugin.skip(pluginWire, pluginField);
      }
    } else {
      reader.skip(wireType, fieldNo);
    }
  }
  return name;
}

/** SessionLog.status (field 1) is START. */
function isSessionStart(bytes: Uint8Array): boolean {
  const reader = new BinaryReader(bytes);
  let start = false;
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === WireType.Varint) start = reader.int32() === SessionStatus.START;
    else reader.skip(wireType, fieldNo);
  }
  return start;
}
