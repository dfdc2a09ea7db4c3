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
import { XpError } from '../../errors.js';
import { maskedCrc32c } from './crc.js';
import { SessionStatus } from './proto.js';
import { ScalarSeries } from './scalar-series.js';

export interface ScalarPoint {
  step: number;
  /** The logged float32, exactly. */
  value: number;
}

/** Each tag's points, sorted by step, one point per step. */
export type Scalars = Map<string, ScalarPoint[]>;

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

/**
 * What a reader is told of each event, in file order: its scalars, its images and the
 * (re)starts of a run. `wallTime` is in seconds since the Unix epoch.
 */
export interface EventVisitor {
  scalar?(tag: string, value: number, step: number, wallTime: number): void;
  image?(image: ImageRef, step: number, wallTime: number): void;
  /** A SessionLog START: `xp run --resume` writes one at the step it resumes from. */
  sessionStart?(step: number, wallTime: number): void;
  /** After each whole record's other calls: its step and where its framing starts and ends in the file. */
  record?(step: number, start: number, end: number): void;
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
  const byTag = new Map<string, ScalarSeries>();
  const visitor: EventVisitor = {
    scalar(tag, value, step, wallTime) {
      let series = byTag.get(tag);
      if (!series) byTag.set(tag, (series = new ScalarSeries()));
      series.set(step, value, wallTime);
    },
  };
  for (const file of eventFiles(dir)) new EventFileTail(file).readNew(visitor);
  const scalars: Scalars = new Map();
  for (const [tag, { steps, values }] of byTag) scalars.set(tag, Array.from(steps, (step, i) => ({ step, value: values[i] })));
  return scalars;
}

/** A scalar as one event holds it. */
export interface TaggedValue {
  tag: string;
  value: number;
}

/** Each whole record of an event file: its framed bytes, and its Event's step and scalars. */
export function fileEvents(file: string): { framed: Uint8Array; event: { step: number; values: TaggedValue[] } }[] {
  const bytes = fs.readFileSync(file);
  const events: { framed: Uint8Array; event: { step: number; values: TaggedValue[] } }[] = [];
  let values: TaggedValue[] = [];
  new EventFileTail(file).readNew({
    scalar: (tag, value) => values.push({ tag, value }),
    record: (step, start, end) => {
      events.push({ framed: bytes.subarray(start, end), event: { step, values } });
      values = [];
    },
  });
  return events;
}

/** Every scalar point of one event file, in the order written (repeats included). */
export function fileScalars(file: string): (TaggedValue & { step: number })[] {
  return fileEvents(file).flatMap(({ event }) => event.values.map((value) => ({ step: event.step, ...value })));
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
  private readonly tags = new TagTexts();

  constructor(
    readonly file: string,
    private readonly chunkBytes = 8 << 20,
  ) {}

  /** Tells `visitor` what each new event holds, in file order; returns the number of new events. */
  readNew(visitor: EventVisitor): number {
    // O_NOFOLLOW: an event file that is a symbolic link is not read through.
    const fd = fs.openSync(this.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const size = fs.fstatSync(fd).size;
      let count = 0;
      let wanted = this.chunkBytes;
      while (this.offset < size) {
        const chunk = readAt(fd, this.offset, Math.min(wanted, size - this.offset));
        const decoder = new EventDecoder(chunk, this.offset, this.file, this.imageTags, this.tags, visitor);
        const { consumed, records, nextRecordBytes } = decoder.decodeRecords();
        count += records;
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

/** Protobuf wire types. */
const VARINT = 0;
const BIT64 = 1;
const LENGTH_DELIMITED = 2;
const BIT32 = 5;

/**
 * Decodes the records of one chunk of an event file in place: fields are walked by offset
 * within the chunk, with no reader object, subarray or event object per record, because a
 * long run's file holds hundreds of thousands of records and the board reads them at once.
 */
class EventDecoder {
  private readonly view: DataView;
  private pos = 0;
  // The field just read by tag().
  private field = 0;
  private wire = 0;
  // The event being decoded.
  private step = 0;
  private wallTime = 0;

  constructor(
    private readonly bytes: Buffer,
    /** Where the chunk starts in the file. */
    private readonly base: number,
    private readonly file: string,
    private readonly imageTags: Set<string>,
    private readonly tags: TagTexts,
    private readonly visitor: EventVisitor,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The whole records at the start of the chunk, CRCs checked, each decoded and visited. */
  decodeRecords(): { consumed: number; records: number; nextRecordBytes?: number } {
    const { bytes, view } = this;
    let offset = 0;
    let records = 0;
    while (offset + HEADER_BYTES <= bytes.length) {
      if (view.getUint32(offset + LENGTH_BYTES, true) !== maskedCrc32c(bytes, offset, offset + LENGTH_BYTES)) {
        throw corruptRecord(this.file, this.base + offset, 'length');
      }
      const start = offset + HEADER_BYTES;
      // The u64 length as two halves: a BigInt per record would cost more than the rest.
      const end = start + view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 2 ** 32;
      if (end + CRC_BYTES > bytes.length) return { consumed: offset, records, nextRecordBytes: end + CRC_BYTES - offset };
      if (view.getUint32(end, true) !== maskedCrc32c(bytes, start, end)) throw corruptRecord(this.file, this.base + offset, 'data');
      try {
        this.event(start, end);
      } catch (err) {
        // The CRC matched, so these bytes are what the writer wrote: not an Event at all.
        throw new XpError(`${this.file}: the record at byte ${this.base + offset} is not a TensorBoard Event (${(err as Error).message})`);
      }
      this.visitor.record?.(this.step, this.base + offset, this.base + end + CRC_BYTES);
      records++;
      offset = end + CRC_BYTES;
    }
    return { consumed: offset, records };
  }

  /** An Event: wall_time and step first (summaries need them, wherever they stand), then the rest. */
  private event(start: number, end: number): void {
    this.step = 0;
    this.wallTime = 0;
    this.pos = start;
    while (this.pos < end) {
      this.tag();
      if (this.field === 1 && this.wire === BIT64) this.wallTime = this.double();
      else if (this.field === 2 && this.wire === VARINT) this.step = this.varint();
      else this.skip();
    }
    this.pos = start;
    while (this.pos < end) {
      this.tag();
      if ((this.field === 5 || this.field === 7) && this.wire === LENGTH_DELIMITED) {
        const length = this.varint();
        const fieldEnd = this.pos + length;
        if (this.field === 5) this.summary(this.pos, fieldEnd);
        else if (this.isSessionStart(this.pos, fieldEnd)) this.visitor.sessionStart?.(this.step, this.wallTime);
        this.pos = fieldEnd;
      } else {
        this.skip();
      }
    }
  }

  /** Summary: its values (field 1). */
  private summary(start: number, end: number): void {
    this.pos = start;
    while (this.pos < end) {
      this.tag();
      if (this.field === 1 && this.wire === LENGTH_DELIMITED) {
        const length = this.varint();
        const valueEnd = this.pos + length;
        this.value(this.pos, valueEnd);
        this.pos = valueEnd;
      } else {
        this.skip();
      }
    }
  }

  /**
   * A Summary.Value: a simple_value scalar, or images (the images plugin's DT_STRING tensor
   * [width, height, png...], or the legacy Summary.Image); text, histograms and other tensors
   * are skipped.
   */
  private value(start: number, end: number): void {
    let tag = '';
    let simpleValue: number | undefined;
    let isImages = false;
    // Where the tensor (field 8) and the legacy image (field 4) lie, once their tag is known.
    let tensorStart = -1;
    let tensorEnd = -1;
    let imageStart = -1;
    let imageEnd = -1;
    this.pos = start;
    while (this.pos < end) {
      this.tag();
      const { field, wire } = this;
      if (field === 2 && wire === BIT32) {
        simpleValue = this.view.getFloat32(this.pos, true);
        this.pos += 4;
      } else if (wire === LENGTH_DELIMITED && (field === 1 || field === 4 || field === 8 || field === 9)) {
        const length = this.varint();
        const fieldStart = this.pos;
        const fieldEnd = fieldStart + length;
        if (field === 1) {
          tag = this.tags.text(this.bytes, fieldStart, fieldEnd);
        } else if (field === 4) {
          imageStart = fieldStart;
          imageEnd = fieldEnd;
        } else if (field === 8) {
          tensorStart = fieldStart;
          tensorEnd = fieldEnd;
        } else {
          isImages = this.pluginName(fieldStart, fieldEnd) === 'images';
        }
        this.pos = fieldEnd;
      } else {
        this.skip();
      }
    }
    if (simpleValue !== undefined) this.visitor.scalar?.(tag, simpleValue, this.step, this.wallTime);
    if (isImages) this.imageTags.add(tag);
    if (!this.visitor.image) return;
    if (imageStart >= 0) this.legacyImage(tag, imageStart, imageEnd);
    if (tensorStart >= 0 && this.imageTags.has(tag)) this.imageTensor(tag, tensorStart, tensorEnd);
  }

  /** The images plugin's tensor: string_val (field 8) is [width, height, png, png, ...]. */
  private imageTensor(tag: string, start: number, end: number): void {
    const strings: [number, number][] = [];
    this.pos = start;
    while (this.pos < end) {
      this.tag();
      if (this.field === 8 && this.wire === LENGTH_DELIMITED) {
        const length = this.varint();
        strings.push([this.pos, this.pos + length]);
        this.pos += length;
      } else {
        this.skip();
      }
    }
    if (strings.length < 3) return;
    const [width, height] = strings.slice(0, 2).map(([s, e]) => Number(this.bytes.toString('utf8', s, e)));
    strings.slice(2).forEach(([s, e], index) => this.visitImage(tag, index, width, height, s, e));
  }

  /** Summary.Image: height = 1, width = 2, encoded_image_string = 4. */
  private legacyImage(tag: string, start: number, end: number): void {
    let width = 0;
    let height = 0;
    let png: [number, number] | undefined;
    this.pos = start;
    while (this.pos < end) {
      this.tag();
      if (this.field === 1 && this.wire === VARINT) height = this.varint();
      else if (this.field === 2 && this.wire === VARINT) width = this.varint();
      else if (this.field === 4 && this.wire === LENGTH_DELIMITED) {
        const length = this.varint();
        png = [this.pos, this.pos + length];
        this.pos += length;
      } else this.skip();
    }
    if (png) this.visitImage(tag, 0, width, height, png[0], png[1]);
  }

  private visitImage(tag: string, index: number, width: number, height: number, start: number, end: number): void {
    const image: ImageRef = { tag, index, width, height, file: this.file, offset: this.base + start, length: end - start };
    this.visitor.image!(image, this.step, this.wallTime);
  }

  /** SummaryMetadata.plugin_data (1) .plugin_name (1). */
  private pluginName(start: number, end: number): string | undefined {
    let name: string | undefined;
    this.pos = start;
    while (this.pos < end) {
      this.tag();
      if (this.field === 1 && this.wire === LENGTH_DELIMITED) {
        const length = this.varint();
        const pluginEnd = this.pos + length;
        while (this.pos < pluginEnd) {
          this.tag();
          if (this.field === 1 && this.wire === LENGTH_DELIMITED) {
            const length = this.varint();
            name = this.bytes.toString('utf8', this.pos, this.pos + length);
            this.pos += length;
          } else {
            this.skip();
          }
        }
      } else {
        this.skip();
      }
    }
    return name;
  }

  /** SessionLog.status (field 1) is START. */
  private isSessionStart(start: number, end: number): boolean {
    let status = 0;
    this.pos = start;
    while (this.pos < end) {
      this.tag();
      if (this.field === 1 && this.wire === VARINT) status = this.varint();
      else this.skip();
    }
    return status === SessionStatus.START;
  }

  private tag(): void {
    const key = this.varint();
    this.field = Math.floor(key / 8);
    this.wire = key & 7;
  }

  /** A varint as a Number: exact below 2^53, which steps and lengths are. */
  private varint(): number {
    let value = 0;
    let scale = 1;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.bytes.length) throw new Error('premature EOF');
      const byte = this.bytes[this.pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Error('varint longer than 10 bytes');
  }

  private double(): number {
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** Past the value of the field just read. */
  private skip(): void {
    if (this.wire === VARINT) this.varint();
    else if (this.wire === BIT64) this.pos += 8;
    else if (this.wire === LENGTH_DELIMITED) {
      const length = this.varint(); // before reading pos, which it advances
      this.pos += length;
    }
    else if (this.wire === BIT32) this.pos += 4;
    else throw new Error(`unexpected wire type ${this.wire}`);
    if (this.pos > this.bytes.length) throw new Error('premature EOF');
  }
}

/**
 * Tag bytes to text, remembered: a file repeats a few tags hundreds of thousands of times, and
 * comparing a tag's bytes with those seen costs less than decoding a new string each time.
 */
class TagTexts {
  private readonly byLength = new Map<number, { bytes: Uint8Array; text: string }[]>();

  text(bytes: Buffer, start: number, end: number): string {
    const length = end - start;
    let known = this.byLength.get(length);
    if (!known) this.byLength.set(length, (known = []));
    for (const entry of known) if (sameBytes(entry.bytes, bytes, start)) return entry.text;
    const entry = { bytes: Uint8Array.from(bytes.subarray(start, end)), text: bytes.toString('utf8', start, end) };
    known.push(entry);
    return entry.text;
  }
}

function sameBytes(known: Uint8Array, bytes: Uint8Array, start: number): boolean {
  for (let i = known.length - 1; i >= 0; i--) if (known[i] !== bytes[start + i]) return false;
  return true;
}

function corruptRecord(file: string, offset: number, part: 'length' | 'data'): XpError {
  return new XpError(`${file}: corrupt event record at byte ${offset} (the CRC of its ${part} does not match)`);
}
