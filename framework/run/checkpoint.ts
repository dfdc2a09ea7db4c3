/**
 * Checkpoints: everything a run needs to continue exactly — model weights, optimizer state,
 * callback state (EMA weights), step, data order and random generator state — as a folder
 * `checkpoints/step-<N>/` holding tfjs's weights manifest (`weights.json` + `weights.bin`,
 * readable by any tfjs, no tfjs-node needed) and `state.json`. A checkpoint is written to a
 * temporary folder and renamed into place, so a crash leaves the old one or the new one.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { XpError } from '../errors.js';

export interface CheckpointData {
  /** Plain JSON state: step, epoch, data and random generator state, callback state. */
  state: Record<string, unknown>;
  /** Named tensors, e.g. `model/<variable>`, `optimizer/3`, `callbacks.ema/<variable>`. */
  tensors: Map<string, tf.Tensor>;
}

const STATE_FILE = 'state.json';
const MANIFEST_FILE = 'weights.json';
const WEIGHTS_FILE = 'weights.bin';
const PREFIX = 'step-';

export function checkpointName(step: number): string {
  return `${PREFIX}${String(step).padStart(8, '0')}`;
}

export async function writeCheckpoint(dir: string, step: number, data: CheckpointData): Promise<string> {
  const target = path.join(dir, checkpointName(step));
  const temp = path.join(dir, `.tmp-${checkpointName(step)}-${process.pid}`);
  fs.rmSync(temp, { recursive: true, force: true });
  fs.mkdirSync(temp, { recursive: true });
  const named = [...data.tensors].map(([name, tensor]) => ({ name, tensor }));
  const { data: bytes, specs } = await tf.io.encodeWeights(named);
  fs.writeFileSync(path.join(temp, WEIGHTS_FILE), new Uint8Array(bytes as ArrayBuffer));
  const manifest = [{ paths: [WEIGHTS_FILE], weights: specs }];
  fs.writeFileSync(path.join(temp, MANIFEST_FILE), JSON.stringify(manifest));
  fs.writeFileSync(path.join(temp, STATE_FILE), `${JSON.stringify({ step, ...data.state }, null, 1)}\n`);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(temp, target);
  return target;
}

export function readCheckpoint(checkpoint: string): CheckpointData {
  const read = (file: string) => {
    const full = path.join(checkpoint, file);
    if (!fs.existsSync(full)) throw new XpError(`${checkpoint} is not a complete checkpoint: ${file} is missing`);
    return fs.readFileSync(full);
  };
  const state = JSON.parse(read(STATE_FILE).toString('utf8')) as Record<string, unknown>;
  const [group] = JSON.parse(read(MANIFEST_FILE).toString('utf8')) as tf.io.WeightsManifestConfig;
  const bytes = read(WEIGHTS_FILE);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const tensors = tf.io.decodeWeights(buffer, group.weights);
  return { state, tensors: new Map(Object.entries(tensors)) };
}

/** Checkpoints of a run, oldest first. */
export function listCheckpoints(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.startsWith(PREFIX) && fs.existsSync(path.join(dir, name, STATE_FILE)))
    .sort()
    .map((name) => path.join(dir, name));
}

/** Deletes all but the newest `keepLast` checkpoints, and any in `keep`. */
export function pruneCheckpoints(dir: string, keepLast: number, keep: Set<string> = new Set()): void {
  const all = listCheckpoints(dir);
  for (const checkpoint of all.slice(0, Math.max(0, all.length - keepLast))) {
    if (!keep.has(checkpoint)) fs.rmSync(checkpoint, { recursive: true, force: true });
  }
}

/** A run folder, its checkpoints/ folder, or one checkpoint: the newest checkpoint meant. */
export function resolveCheckpoint(target: string): string {
  if (fs.existsSync(path.join(target, STATE_FILE))) return target;
  for (const dir of [path.join(target, 'checkpoints'), target]) {
    const found = listCheckpoints(dir);
    if (found.length) return found[found.length - 1];
  }
  throw new XpError(`no checkpoint in ${target}`);
}
