/**
 * xp's TensorBoard event-file writer: scalars, images, text, histograms and HParams sessions,
 * without tfjs-node (whose summaryFileWriter needs libtensorflow and writes no images or text).
 *
 * Records are buffered in memory and appended, whole, by flush(): on a timer, after each image
 * or hparams record, on close() and when the process exits; flushToDisk() also fsyncs, which a
 * run does before committing each checkpoint, so the records up to a checkpoint are on the disk
 * before the checkpoint is. A process killed in between loses only its unflushed records; the
 * file on disk always ends on a record boundary.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { syncFile } from '../../fsutil.js';
import { maskedCrc32c } from './crc.js';
import {
  DataClass,
  DataType,
  SessionStatus,
  encodeEvent,
  encodeExperiment,
  encodeSessionEndInfo,
  encodeSessionStartInfo,
  type Event,
  type ExperimentInfo,
  type HistogramProto,
  type SessionEndInfo,
  type SessionStartInfo,
  type SummaryMetadata,
  type SummaryValue,
} from './proto.js';

export interface SummaryWriterOptions {
  /** Longest time a scalar or text record waits in memory before reaching the disk. */
  flushSeconds?: number;
  /**
   * Asked before every append to the file: false means this process no longer owns the run
   * folder (another writer took it over), and pending records are dropped instead.
   */
  mayWrite?: () => boolean;
}

const FILE_VERSION = 'brain.Event:2';

// Plugin contents are left empty: version 0 with default fields is what both plugins expect.
const IMAGE_METADATA: SummaryMetadata = { pluginName: 'images', dataClass: DataClass.BLOB_SEQUENCE };
const TEXT_METADATA: SummaryMetadata = { pluginName: 'text', dataClass: DataClass.TENSOR };

// Tags the HParams dashboard looks for (tensorboard/plugins/hparams/metadata.py).
const HPARAMS_EXPERIMENT_TAG = '_hparams_/experiment';
const HPARAMS_SESSION_START_TAG = '_hparams_/session_start_info';
const HPARAMS_SESSION_END_TAG = '_hparams_/session_end_info';

/** Distinguishes the event files one process opens within the same second. */
let eventFilesOpened = 0;

export class SummaryWriter {
  /** Path of the event file this writer appends to. */
  readonly file: string;
  private pending: Uint8Array[] = [];
  private closed = false;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly flushMs: number;
  private flushedAt = Date.now();
  private readonly mayWrite: () => boolean;
  /** A failed timed flush (a full disk, say), raised by the next flushToDisk() or close(). */
  private failure?: Error;

  constructor(
    readonly logdir: string,
    { flushSeconds = 10, mayWrite = () => true }: SummaryWriterOptions = {},
  ) {
    fs.mkdirSync(logdir, { recursive: true });
    this.mayWrite = mayWrite;
    this.flushMs = flushSeconds * 1000;
    const header = frameRecord(encodeEvent({ wallTime: nowSecs(), fileVersion: FILE_VERSION }));
    this.file = createEventFile(logdir, header);
    // unref: a pending flush must not keep a finished process alive; the exit hook covers it.
    this.flushTimer = setInterval(() => this.flushFromTimer(), flushSeconds * 1000).unref();
    flushOnExit(this);
  }

  scalar(tag: string, value: number, step: number): void {
    // simple_value is read as a scalar by both the Python loader and rustboard.
    this.summary({ tag, simpleValue: value }, step);
  }

  /** One PNG as the images plugin's tensor form: a DT_STRING vector [width, height, png]. */
  image(tag: string, png: Uint8Array, width: number, height: number, step: number): void {
    const stringVal = [utf8(String(width)), utf8(String(height)), png];
    this.summary({ tag, metadata: IMAGE_METADATA, tensor: { dtype: DataType.STRING, shape: [3], stringVal } }, step);
    this.flush();
  }

  /** Markdown for the text dashboard, as a rank-0 DT_STRING tensor. */
  text(tag: string, markdown: string, step: number): void {
    const tensor = { dtype: DataType.STRING, shape: [], stringVal: [utf8(markdown)] };
    this.summary({ tag, metadata: TEXT_METADATA, tensor }, step);
  }

  histogram(tag: string, values: Float32Array, step: number): void {
    this.summary({ tag, histo: histogramOf(values) }, step);
  }

  /**
   * Marks a (re)start at `step`. The Python loader then drops the records of an earlier attempt
   * at steps >= `step`, so a resumed run does not show both attempts.
   */
  sessionStart(step: number): void {
    this.append({ wallTime: nowSecs(), step, sessionStatus: SessionStatus.START });
  }

  /** The trial's hparams for the HParams dashboard; runs sharing `groupName` are averaged. */
  hparamsSessionStart(info: SessionStartInfo): void {
    this.summary(hparamsValue(HPARAMS_SESSION_START_TAG, encodeSessionStartInfo(info)), 0);
    this.flush();
  }

  hparamsSessionEnd(info: SessionEndInfo): void {
    this.summary(hparamsValue(HPARAMS_SESSION_END_TAG, encodeSessionEndInfo(info)), 0);
    this.flush();
  }

  /** Any Summary.Value; the methods above cover what xp logs. */
  summary(value: SummaryValue, step: number): void {
    this.append({ wallTime: nowSecs(), step, summary: [value] });
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const records = Buffer.concat(this.pending);
    this.pending = [];
    this.flushedAt = Date.now();
    // After a failed append the file may end in a partial record: nothing more goes after it.
    if (this.failure || !this.mayWrite()) return;
    try {
      // Synchronous, so it also works from the 'exit' hook; whole records only.
      fs.appendFileSync(this.file, records);
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }

  /** flush(), then fsync the file: every record so far survives a crash of the machine. */
  flushToDisk(): void {
    this.raiseFailure();
    this.flush();
    if (this.mayWrite()) syncFile(this.file);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.flushTimer);
    stopFlushingOnExit(this);
    this.raiseFailure();
    this.flush();
  }

  /** A timed flush must not throw (from a timer the process would die with a stack trace): keep the error. */
  private flushFromTimer(): void {
    try {
      this.flush();
    } catch {
      // kept in this.failure
    }
  }

  private raiseFailure(): void {
    if (this.failure) throw this.failure;
  }

  private append(event: Event): void {
    if (this.closed) throw new Error(`SummaryWriter for ${this.logdir} is closed`);
    this.pending.push(frameRecord(encodeEvent(event)));
    // The timer cannot fire while a training loop keeps the event loop busy; this can.
    if (Date.now() - this.flushedAt >= this.flushMs) this.flushFromTimer();
  }
}

/**
 * Writes the HParams experiment summary (hparam domains and metric tags) into `logdir`, which
 * should be the sweep root: TensorBoard expects a single one, in the run above the trials.
 * Returns the event file's path.
 */
export function hparamsExperiment(logdir: string, experiment: ExperimentInfo): string {
  const writer = new SummaryWriter(logdir);
  try {
    const content = encodeExperiment({ timeCreatedSecs: nowSecs(), ...experiment });
    writer.summary(hparamsValue(HPARAMS_EXPERIMENT_TAG, content), 0);
  } finally {
    writer.close();
  }
  return writer.file;
}

/**
 * An hparams-plugin value. Its data is all in the metadata; the tensor is the empty float vector
 * TensorBoard's own hparams summaries carry, because the loaders keep only tensor-valued points.
 */
function hparamsValue(tag: string, content: Uint8Array): SummaryValue {
  return {
    tag,
    metadata: { pluginName: 'hparams', content, dataClass: DataClass.TENSOR },
    tensor: { dtype: DataType.FLOAT, shape: [0] },
  };
}

// ---- files and framing ----

/** `events.out.tfevents.<secs>.<host>.<pid>.<n>`: TensorBoard reads files whose name contains "tfevents". */
function createEventFile(logdir: string, header: Uint8Array): string {
  const secs = String(Math.floor(Date.now() / 1000)).padStart(10, '0');
  for (;;) {
    const file = path.join(logdir, `events.out.tfevents.${secs}.${os.hostname()}.${process.pid}.${eventFilesOpened++}`);
    try {
      fs.writeFileSync(file, header, { flag: 'wx' }); // never append to someone else's file
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** TFRecord framing: u64 length, masked CRC of those 8 bytes, data, masked CRC of data; little-endian. */
function frameRecord(data: Uint8Array): Uint8Array {
  const record = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(record.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(record.subarray(0, 8)), true);
  record.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return record;
}

function nowSecs(): number {
  return Date.now() / 1000;
}

function utf8(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

// ---- flushing on process exit ----

// One 'exit' listener for all open writers, so that many writers do not trip Node's
// MaxListenersExceeded warning. 'exit' runs on a normal end and on process.exit(); a CLI that
// wants records flushed on SIGINT/SIGTERM must turn those signals into process.exit().
const openWriters = new Set<SummaryWriter>();

/** At exit nothing can be reported any more: a writer that cannot flush loses its last records. */
function flushOpenWriters(): void {
  for (const writer of openWriters) {
    try {
      writer.flush();
    } catch {
      // the process is ending; an error here would only replace its real exit status
    }
  }
}

function flushOnExit(writer: SummaryWriter): void {
  if (openWriters.size === 0) process.on('exit', flushOpenWriters);
  openWriters.add(writer);
}

function stopFlushingOnExit(writer: SummaryWriter): void {
  openWriters.delete(writer);
  if (openWriters.size === 0) process.off('exit', flushOpenWriters);
}

// ---- histograms ----

let defaultBucketLimits: Float64Array | undefined;

/**
 * TensorFlow's default histogram buckets: edges ±1e-12·1.1^k up to 1e20, 0 in the middle and
 * ±DBL_MAX at the ends, so relative resolution is 10% at every scale.
 */
function bucketLimits(): Float64Array {
  if (!defaultBucketLimits) {
    const positive: number[] = [];
    for (let edge = 1e-12; edge < 1e20; edge *= 1.1) positive.push(edge);
    positive.push(Number.MAX_VALUE);
    defaultBucketLimits = Float64Array.from([...positive.map((edge) => -edge).reverse(), 0, ...positive]);
  }
  return defaultBucketLimits;
}

/** Index of the first limit above `value`: a bucket holds [previous limit, its limit). */
function bucketIndex(limits: Float64Array, value: number): number {
  let lo = 0;
  let hi = limits.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (limits[mid] > value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Rejects empty and non-finite input, as TensorFlow's histogram summary does. */
function histogramOf(values: Float32Array): HistogramProto {
  if (values.length === 0) throw new RangeError('histogram of no values');
  const limits = bucketLimits();
  const counts = new Float64Array(limits.length);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  for (const value of values) {
    if (!Number.isFinite(value)) throw new RangeError(`histogram of a non-finite value (${value})`);
    counts[bucketIndex(limits, value)]++;
    min = Math.min(min, value);
    max = Math.max(max, value);
    sum += value;
    sumSquares += value * value;
  }
  return { min, max, num: values.length, sum, sumSquares, ...occupiedBuckets(limits, counts) };
}

/**
 * Keeps the buckets from the first to the last non-empty one and merges each run of empty
 * buckets in between into one, as TensorFlow does. Dropping the empty ends matters: the
 * loaders draw the first bucket from `min` and the last to `max`.
 */
function occupiedBuckets(limits: Float64Array, counts: Float64Array): Pick<HistogramProto, 'bucketLimit' | 'bucket'> {
  const first = counts.findIndex((count) => count > 0);
  let last = counts.length - 1;
  while (counts[last] === 0) last--;
  const bucketLimit: number[] = [];
  const bucket: number[] = [];
  for (let i = first; i <= last; i++) {
    if (counts[i] === 0 && counts[i + 1] === 0) continue; // the run's last bucket stands for it
    bucketLimit.push(limits[i]);
    bucket.push(counts[i]);
  }
  return { bucketLimit, bucket };
}
