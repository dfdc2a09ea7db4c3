/** The Recorder a run writes through: TensorBoard events, plus each image as a PNG in samples/. */
import path from 'node:path';
import fs from 'node:fs';
import type { Recorder } from '../interfaces.js';
import type { SummaryWriter } from '../records/tensorboard/writer.js';
import { encodeGrayPng } from '../records/png.js';
import { writeFileAtomic } from '../fsutil.js';

export class RunRecorder implements Recorder {
  /** The last value of every scalar tag, for run.json and sweep summaries. */
  readonly lastScalars: Record<string, number> = {};

  /**
   * @param heartbeat called with every scalar (every step): the run folder renews its lock
   *   there, which works even while the training loop keeps the event loop busy.
   */
  constructor(
    private readonly writer: SummaryWriter,
    private readonly samplesDir: string,
    private readonly heartbeat: () => void = () => {},
  ) {}

  scalar(tag: string, value: number, step: number): void {
    this.heartbeat();
    this.lastScalars[tag] = value;
    this.writer.scalar(tag, value, step);
  }

  image(tag: string, pixels: Uint8Array, width: number, height: number, step: number): void {
    const png = encodeGrayPng(pixels, width, height);
    fs.mkdirSync(this.samplesDir, { recursive: true });
    writeFileAtomic(path.join(this.samplesDir, `${tag.replace(/[^A-Za-z0-9_-]+/g, '_')}-step${step}.png`), png);
    this.writer.image(tag, png, width, height, step);
  }

  text(tag: string, markdown: string, step: number): void {
    this.writer.text(tag, markdown, step);
  }
}
