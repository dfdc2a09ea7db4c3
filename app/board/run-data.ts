/**
 * One run folder as the board sees it: run.json re-read when it changes, and the event files
 * read as they grow (from the end of the last whole record, CRCs checked), merged across a
 * resumed run's files. Scalars are kept whole, for the CSV and for smoothing; images as places
 * in the event files, read when shown. Anything malformed makes the run unreadable, with the
 * reason, instead of failing the request.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventFileTail, eventFiles, type EventVisitor, type ImageRef } from '../../framework/records/tensorboard/reader.js';
import { ScalarSeries } from '../../framework/records/tensorboard/scalar-series.js';
import { csvCell, float32Text } from '../../framework/records/csv.js';
import { observedStatus, type RunInfo } from '../../framework/run/run-folder.js';
import type { ImageEntry, RunDetail, RunStatus, RunSummary, ScalarCurve } from './api.js';
import { keptIndices, smooth } from './downsample.js';
import { readDir, readSmallFile } from './folders.js';

const STATUSES: readonly RunStatus[] = ['running', 'completed', 'failed', 'interrupted'];

type ImageRecord = ImageEntry & Pick<ImageRef, 'file' | 'offset' | 'length'>;

/** What the event files hold, read so far. */
class EventData implements EventVisitor {
  readonly tails = new Map<string, EventFileTail>();
  readonly scalars = new Map<string, ScalarSeries>();
  readonly images = new Map<string, ImageRecord[]>();
  readonly resumes: { step: number; wallTime: number }[] = [];
  lastStep = 0;

  scalar(tag: string, value: number, step: number, wallTime: number): void {
    let series = this.scalars.get(tag);
    if (!series) this.scalars.set(tag, (series = new ScalarSeries()));
    series.set(step, value, wallTime);
    if (step > this.lastStep) this.lastStep = step;
  }

  image({ tag, index, width, height, file, offset, length }: ImageRef, step: number, wallTime: number): void {
    let records = this.images.get(tag);
    if (!records) this.images.set(tag, (records = []));
    const record: ImageRecord = { step, index, wallTime, width, height, file, offset, length };
    // As with scalars, a resumed run's later image at the same step replaces the earlier one.
    const same = records.findIndex((r) => r.step === step && r.index === index);
    if (same >= 0) records[same] = record;
    else records.push(record);
    if (records.length > 1 && compareImages(records.at(-2)!, record) > 0) records.sort(compareImages);
  }

  sessionStart(step: number, wallTime: number): void {
    this.resumes.push({ step, wallTime });
  }
}

export class RunData {
  private info?: RunInfo;
  private infoError?: string;
  private infoStamp = '';
  private events?: EventData;
  private eventsError?: string;

  constructor(
    readonly id: string,
    readonly dir: string,
  ) {}

  /** Changes with run.json, with the size of any event file, and when a running run's writer dies. */
  version(): string {
    const stamps = [path.join(this.dir, 'run.json'), ...eventFiles(this.dir)].map(fileStamp);
    const info = this.readInfo();
    return [...stamps, info ? observedStatus(this.dir, info) : ''].join(',');
  }

  summary(): RunSummary {
    const version = this.version();
    const info = this.readInfo();
    // A running run's run.json says 0 steps until it ends; its event files say how far it is.
    if (info?.status === 'running') this.readEvents();
    const unreadable = this.unreadable();
    if (!info || unreadable) return { id: this.id, version, unreadable };
    return {
      id: this.id,
      version,
      experiment: info.experiment,
      status: observedStatus(this.dir, info),
      backend: info.backend,
      steps: Math.max(info.steps, this.events?.lastStep ?? 0),
      lastLoss: info.lastLoss,
      startedAt: info.startedAt,
      endedAt: info.endedAt,
      error: info.error,
      checkpoints: this.checkpointSteps(),
    };
  }

  detail(): RunDetail {
    const version = this.version();
    const events = this.readEvents();
    const unreadable = this.unreadable();
    if (unreadable) return { id: this.id, version, unreadable, scalarTags: [], images: {}, resumes: [] };
    let config: string | undefined;
    try {
      config = readSmallFile(path.join(this.dir, 'config.yaml'));
    } catch (err) {
      config = `# ${(err as Error).message}`;
    }
    return {
      id: this.id,
      version,
      config,
      scalarTags: [...events.scalars].map(([tag, series]) => ({ tag, points: series.length })),
      images: Object.fromEntries([...events.images].map(([tag, records]) => [tag, records.map(({ step, index, wallTime, width, height }) => ({ step, index, wallTime, width, height }))])),
      resumes: events.resumes,
    };
  }

  /** Every tag's curve cut to about `points` points; smoothed first when `smoothing` > 0. */
  curves(points: number, smoothing: number): Record<string, ScalarCurve> {
    const events = this.readEvents();
    if (this.unreadable()) return {};
    return Object.fromEntries(
      [...events.scalars].map(([tag, { steps, values, wallTimes }]) => {
        const kept = keptIndices(values, points);
        const pick = (column: ArrayLike<number>) => kept.map((i) => column[i]);
        const curve: ScalarCurve = { total: steps.length, step: pick(steps), wallTime: pick(wallTimes), value: pick(values) };
        if (smoothing > 0) curve.smoothed = pick(smooth(values, smoothing));
        return [tag, curve];
      }),
    );
  }

  /** All points of a tag as CSV (step, wall_time, value); undefined for an unknown tag. */
  csv(tag: string): string | undefined {
    const series = this.readEvents().scalars.get(tag);
    if (!series || this.unreadable()) return undefined;
    const { steps, values, wallTimes } = series;
    const rows = Array.from(steps, (step, i) => `${step},${wallTimes[i]},${float32Text(values[i])}`);
    return [`step,wall_time,${csvCell(tag)}`, ...rows, ''].join('\n');
  }

  /** An image's bytes, read from its event file; undefined when there is no such image. */
  image(tag: string, step: number, index: number): Buffer | undefined {
    const record = this.readEvents().images.get(tag)?.find((r) => r.step === step && r.index === index);
    if (!record || this.unreadable()) return undefined;
    const bytes = Buffer.alloc(record.length);
    const fd = fs.openSync(record.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      fs.readSync(fd, bytes, 0, record.length, record.offset);
    } finally {
      fs.closeSync(fd);
    }
    return bytes;
  }

  /** The last value of each scalar tag: run.json's for a finished run, else the event files'. */
  lastValues(): Record<string, number> {
    const info = this.readInfo();
    if (info?.metrics && info.status !== 'running') return info.metrics;
    const events = this.readEvents();
    return Object.fromEntries([...events.scalars].map(([tag, { values }]) => [tag, values[values.length - 1]]));
  }

  /** Frees what was read from the event files; the next request reads them again. */
  forgetEvents(): void {
    this.events = undefined;
    this.eventsError = undefined;
  }

  private unreadable(): string | undefined {
    return this.infoError ?? this.eventsError;
  }

  private readInfo(): RunInfo | undefined {
    const file = path.join(this.dir, 'run.json');
    const stamp = fileStamp(file);
    if (stamp === this.infoStamp) return this.info;
    this.infoStamp = stamp;
    try {
      this.info = parseRunInfo(readSmallFile(file));
      this.infoError = undefined;
    } catch (err) {
      this.info = undefined;
      this.infoError = `run.json: ${(err as Error).message}`;
    }
    return this.info;
  }

  /** Reads what the event files gained since the last call. */
  private readEvents(): EventData {
    const events = (this.events ??= new EventData());
    if (this.eventsError) return events; // a corrupt record stays corrupt
    try {
      for (const file of eventFiles(this.dir)) {
        let tail = events.tails.get(file);
        if (!tail) events.tails.set(file, (tail = new EventFileTail(file)));
        tail.readNew(events);
      }
    } catch (err) {
      // The message starts with the file's path; below the run folder is enough.
      this.eventsError = (err as Error).message.split(`${this.dir}${path.sep}`).join('');
    }
    return events;
  }

  private checkpointSteps(): number[] {
    return readDir(path.join(this.dir, 'checkpoints'))
      .map((entry) => /^step-(\d+)$/.exec(entry.name))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]));
  }
}

function compareImages(a: ImageEntry, b: ImageEntry): number {
  return a.step - b.step || a.index - b.index;
}

/** Size and modification time, or '-' for a missing file. */
function fileStamp(file: string): string {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  return stat ? `${stat.size}.${stat.mtimeMs}` : '-';
}

/** run.json, checked as far as the board relies on it. */
function parseRunInfo(text: string): RunInfo {
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`);
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw new Error('not a JSON object');
  const fields = info as Record<string, unknown>;
  if (!STATUSES.includes(fields.status as RunStatus)) throw new Error(`status is ${JSON.stringify(fields.status)}, not one of ${STATUSES.join(', ')}`);
  if (typeof fields.startedAt !== 'string') throw new Error('startedAt is not a string');
  if (typeof fields.steps !== 'number') throw new Error('steps is not a number');
  return info as RunInfo;
}
