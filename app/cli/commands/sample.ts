/**
 * `xp sample RUN|CHECKPOINT --n N --out FILE`: images from a trained model, as a PNG grid,
 * an MNIST idx3-ubyte file or a NumPy uint8 array, chosen by the file's extension.
 */
import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { requestedBackend, selectBackend } from '../../../framework/backend.js';
import { assembleApp, resolveApp } from '../../experiment.js';
import { TOKENS } from '../../../framework/container/tokens.js';
import type { Denoiser, Sampler, Shape3 } from '../../../framework/interfaces.js';
import { checkShapes, readCheckpoint, resolveCheckpoint } from '../../../framework/run/checkpoint.js';
import { encodeGrayPng, imageGrid } from '../../../framework/records/png.js';
import { writeIdx } from '../../../framework/data/idx.js';
import { writeNpyUint8 } from '../../../framework/data/npy.js';
import { writeFileAtomic } from '../../../framework/fsutil.js';
import { XpError } from '../../../framework/errors.js';
import { Rng } from '../../../framework/rng.js';
import { sampleInBatches, samplingBatch } from '../../../framework/eval/sampling.js';
import { takeVariables } from '../../../framework/training/train-state.js';
import type { ConfigMap } from '../../../framework/config/load.js';

/** How to sample a checkpoint. */
export interface SamplingOptions {
  n: number;
  ema?: boolean;
  sampler?: string;
  steps?: number;
  /** `key=value` settings of the sampler's parameters (`--sampler-set`). */
  samplerSet?: string[];
  seed: number;
  /** Images per model call, or 'auto' (framework/eval/sampling.ts). */
  batch: number | 'auto';
  backend?: string;
}

export interface SampleOptions extends SamplingOptions {
  out: string;
  /** Overwrite `out` if it exists. */
  force?: boolean;
}

const WRITERS: Record<string, (file: string, bytes: Uint8Array, n: number, shape: Shape3) => void> = {
  '.png': (file, bytes, n, [h, w]) => {
    const grid = imageGrid(bytes, n, h, w);
    writeFileAtomic(file, encodeGrayPng(grid.pixels, grid.width, grid.height));
  },
  '.idx': (file, bytes, n, [h, w]) => writeIdx(file, [n, h, w], bytes),
  '.npy': (file, bytes, n, [h, w]) => writeNpyUint8(file, [n, h, w], bytes),
};

export async function sample(target: string, opts: SampleOptions): Promise<void> {
  const write = WRITERS[path.extname(opts.out).toLowerCase()];
  if (!write) throw new XpError(`--out ${opts.out}: the extension must be one of ${Object.keys(WRITERS).join(', ')}`);
  checkOutput(opts.out, opts.force);
  const { bytes, shape, checkpoint } = await sampleCheckpoint(target, opts);
  write(opts.out, bytes, opts.n, shape);
  console.error(`wrote ${opts.n} samples to ${opts.out} (from ${checkpoint}${opts.ema ? ', EMA weights' : ''})`);
}

/** Before minutes of sampling: `out` must be writable, and not an existing file unless forced. */
function checkOutput(out: string, force?: boolean): void {
  const dir = path.dirname(path.resolve(out));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new XpError(`--out ${out}: the folder ${dir} does not exist`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new XpError(`--out ${out}: the folder ${dir} is not writable`);
  }
  if (!fs.existsSync(out)) return;
  if (fs.statSync(out).isDirectory()) throw new XpError(`--out ${out}: is a folder`);
  if (!force) throw new XpError(`--out ${out}: the file exists; pass --force to overwrite it`);
}

/** What sampling a checkpoint gives: n images as bytes, and where they came from. */
export interface CheckpointSamples {
  /** n × h × w × c pixels, 0..255. */
  bytes: Uint8Array;
  shape: Shape3;
  checkpoint: string;
}

/**
 * Samples from a run's newest checkpoint (or a checkpoint folder), with its base or EMA weights,
 * on the backend the run's experiment asks for unless `opts.backend` says otherwise.
 */
export async function sampleCheckpoint(target: string, opts: SamplingOptions): Promise<CheckpointSamples> {
  if (!Number.isInteger(opts.n) || opts.n < 1) throw new XpError(`--n must be a positive integer, got ${opts.n}`);
  if (opts.batch !== 'auto' && (!Number.isInteger(opts.batch) || opts.batch < 1)) throw new XpError(`--batch must be a positive integer or auto, got ${opts.batch}`);
  const checkpoint = resolveCheckpoint(target);
  const runDir = path.dirname(path.dirname(checkpoint));
  const config = await resolveApp(path.join(runDir, 'config.yaml'), { set: samplerOverrides(opts) });
  await selectBackend(requestedBackend(opts.backend, config.value.backend as string | undefined));
  const container = assembleApp(config);
  const model = container.get(TOKENS.Model) as Denoiser;
  try {
    loadWeights(model, checkpoint, opts.ema ? emaPath(config.value) : 'model');
    const sampler = container.get(TOKENS.Sampler) as Sampler;
    const shape = container.get(TOKENS.ImageShape) as Shape3;
    return { bytes: await sampleWithProgress(model, sampler, shape, opts), shape, checkpoint };
  } finally {
    model.dispose();
  }
}

/** The sampler as asked: another type replaces the experiment's whole; then each parameter set. */
function samplerOverrides(opts: SamplingOptions): string[] {
  const settings = [...(opts.steps ? [`steps=${opts.steps}`] : []), ...(opts.samplerSet ?? [])].map((kv) => `sampler.${kv}`);
  return opts.sampler ? [`sampler={type: ${opts.sampler}}`, ...settings] : settings;
}

/** The checkpoint key prefix of the run's EMA weights: its ema callback's path. */
function emaPath(config: ConfigMap): string {
  const callbacks = (config.callbacks ?? {}) as Record<string, { type: string }>;
  const name = Object.keys(callbacks).find((key) => callbacks[key].type === 'ema');
  if (!name) throw new XpError('--ema: this run has no ema callback');
  return `callbacks.${name}`;
}

function loadWeights(model: Denoiser, checkpoint: string, prefix: string): void {
  const { tensors } = readCheckpoint(checkpoint);
  try {
    checkShapes(tensors, prefix, model.variables(), checkpoint);
    takeVariables(tensors, prefix, model.variables(), checkpoint);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** Samples in batches, with a progress bar over all denoising steps. */
async function sampleWithProgress(model: Denoiser, sampler: Sampler, shape: Shape3, opts: SamplingOptions): Promise<Uint8Array> {
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  const batch = samplingBatch(model, opts.batch);
  bar?.start(Math.ceil(opts.n / batch) * sampler.evaluations, 0);
  const bytes = await sampleInBatches(model, sampler, shape, opts.n, batch, new Rng(opts.seed), () => bar?.increment());
  bar?.stop();
  return bytes;
}
