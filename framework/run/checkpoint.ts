/**
 * Checkpoints: everything a run needs to continue exactly — model weights, optimizer state,
 * callback state (EMA weights), step, data order and random generator state — as a folder
 * `checkpoints/step-<N>/` holding tfjs's weights manifest (`weights.json` + `weights.bin`,
 * readable by any tfjs, no tfjs-node needed) and `state.json`.
 *
 * A checkpoint is the unit of truth of a run: its files are flushed to the disk in a temporary
 * folder that is then renamed into place (and the rename flushed), so a crash leaves the old
 * checkpoint or the new one; weights that are not finite are never written.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { XpError } from '../errors.js';
import { TEMP_MARK, syncFolder, writeFileDurable } from '../fsutil.js';

export interface CheckpointData {
  /** Plain JSON state: step, epoch, data and random generator state, callback state. */
  state: Record<string, unknown>;
  /** Named tensors, e.g. `model/<variable>`, `optimizer/3`, `callbacks.ema/<variable>`. */
  tensors: Map<string, tf.Tensor>;
}

/** Refused: a checkpoint whose weights hold NaN or infinite values (the last good one is kept). */
export class NonFiniteWeightsError extends XpError {}

const STATE_FILE = 'state.json';
const MANIFEST_FILE = 'weights.json';
const WEIGHTS_FILE = 'weights.bin';
const PREFIX = 'step-';
/** Bytes per element of the dtypes a checkpoint holds. */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

export function checkpointName(step: number): string {
  return `${PREFIX}${String(step).padStart(8, '0')}`;
}

export interface WriteOptions {
  /** Runs just before the checkpoint is renamed into place; throwing there leaves no checkpoint. */
  beforeCommit?: () => void;
}

export async function writeCheckpoint(dir: string, step: number, data: CheckpointData, options: WriteOptions = {}): Promise<string> {
  const named = [...data.tensors].map(([name, tensor]) => ({ name, tensor }));
  const { data: bytes, specs } = await tf.io.encodeWeights(named);
  const weights = new Uint8Array(bytes as ArrayBuffer);
  const poisoned = firstNonFinite(weights, specs);
  if (poisoned) {
    const kept = listCheckpoints(dir).pop();
    throw new NonFiniteWeightsError(
      `at step ${step} '${poisoned}' holds NaN or infinite values; the checkpoint was not written ` +
        `(${kept ? `the last good one, ${path.basename(kept)}, is kept` : 'there is no earlier checkpoint'})`,
    );
  }
  const target = path.join(dir, checkpointName(step));
  const temp = path.join(dir, `${TEMP_MARK}${checkpointName(step)}-${process.pid}`);
  try {
    fs.rmSync(temp, { recursive: true, force: true });
    fs.mkdirSync(temp, { recursive: true });
    writeFileDurable(path.join(temp, WEIGHTS_FILE), weights);
    writeFileDurable(path.join(temp, MANIFEST_FILE), JSON.stringify([{ paths: [WEIGHTS_FILE], weights: specs }]));
    writeFileDurable(path.join(temp, STATE_FILE), `${JSON.stringify({ step, ...data.state }, null, 1)}\n`);
    syncFolder(temp);
    options.beforeCommit?.();
    replaceFolder(temp, target);
  } catch (err) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw err;
  }
  return target;
}

/**
 * Renames `temp` to `target`. A folder cannot be renamed over a non-empty one, so an existing
 * target (the same step saved again) is first moved aside under a temporary name.
 */
function replaceFolder(temp: string, target: string): void {
  const dir = path.dirname(target);
  const aside = path.join(dir, `${TEMP_MARK}old-${path.basename(target)}-${process.pid}`);
  const existed = fs.existsSync(target);
  if (existed) fs.renameSync(target, aside);
  fs.renameSync(temp, target);
  syncFolder(dir);
  if (existed) fs.rmSync(aside, { recursive: true, force: true });
}

/** The name of the first float tensor holding a NaN or an infinity, reading the encoded bytes. */
function firstNonFinite(bytes: Uint8Array, specs: tf.io.WeightsManifestEntry[]): string | undefined {
  let offset = 0;
  for (const spec of specs) {
    const length = spec.shape.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[spec.dtype] ?? 0);
    if (spec.dtype === 'float32') {
      const start = bytes.byteOffset + offset;
      const values = start % 4 === 0
        ? new Float32Array(bytes.buffer, start, length / 4)
        : new Float32Array(bytes.slice(offset, offset + length).buffer);
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return spec.name;
    }
    offset += length;
  }
  return undefined;
}

export function readCheckpoint(checkpoint: string): CheckpointData {
  const read = (file: string) => {
    const full = path.join(checkpoint, file);
    if (!fs.existsSync(full)) throw new XpError(`${checkpoint} is not a complete checkpoint: ${file} is missing`);
    return fs.readFileSync(full);
  };
  const state = parseJson(read(STATE_FILE), path.join(checkpoint, STATE_FILE));
  if (typeof state !== 'object' || state === null || !Number.isInteger((state as { step?: unknown }).step)) {
    throw new XpError(`${path.join(checkpoint, STATE_FILE)}: not a checkpoint state (it has no integer 'step')`);
  }
  const specs = manifestEntries(parseJson(read(MANIFEST_FILE), path.join(checkpoint, MANIFEST_FILE)), path.join(checkpoint, MANIFEST_FILE));
  const bytes = read(WEIGHTS_FILE);
  const expected = specs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[spec.dtype], 0);
  if (bytes.byteLength !== expected) {
    throw new XpError(
      `${path.join(checkpoint, WEIGHTS_FILE)}: ${bytes.byteLength} bytes where ${MANIFEST_FILE} describes ${expected} ` +
        `(${bytes.byteLength < expected ? 'truncated' : 'not the file the manifest belongs to'})`,
    );
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const tensors = tf.io.decodeWeights(buffer, specs);
  return { state: state as Record<string, unknown>, tensors: new Map(Object.entries(tensors)) };
}

function parseJson(bytes: Buffer, file: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new XpError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** The weight entries of a manifest, each with a known dtype and a shape of non-negative integers. */
function manifestEntries(manifest: unknown, file: string): tf.io.WeightsManifestEntry[] {
  const group = Array.isArray(manifest) ? (manifest[0] as { weights?: unknown } | undefined) : undefined;
  if (!Array.isArray(manifest) || manifest.length !== 1 || !Array.isArray(group?.weights)) {
    throw new XpError(`${file}: expected a tfjs weights manifest with one group`);
  }
  return group.weights.map((entry: unknown, index: number) => {
    const { name, dtype, shape } = (entry ?? {}) as { name?: unknown; dtype?: unknown; shape?: unknown };
    const where = `${file}: weights.${index}`;
    if (typeof name !== 'string') throw new XpError(`${where}: no name`);
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new XpError(`${where} (${name}): unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new XpError(`${where} (${name}): the shape ${JSON.stringify(shape)} is not a list of sizes`);
    }
    return { name, dtype, shape } as tf.io.WeightsManifestEntry;
  });
}

/**
 * Checks that a checkpoint's `<prefix>/<name>` tensors fit `variables` before any is assigned,
 * so a checkpoint of another model is an error naming both shapes rather than tfjs's assert.
 */
export function checkShapes(tensors: Map<string, tf.Tensor>, prefix: string, variables: Map<string, tf.Variable>, source: string): void {
  for (const [name, variable] of variables) {
    const saved = tensors.get(`${prefix}/${name}`);
    if (saved && !tf.util.arraysEqual(saved.shape, variable.shape)) {
      throw new XpError(
        `${source}: '${prefix}/${name}' has shape [${saved.shape.join(', ')}], the model's is [${variable.shape.join(', ')}]: it belongs to another model`,
      );
    }
  }
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

/**
 * Deletes all but the newest `keepLast` checkpoints, and any in `keep`. Each is renamed to a
 * temporary name first, so a crash mid-delete leaves no half-deleted checkpoint to resume from.
 */
export function pruneCheckpoints(dir: string, keepLast: number, keep: Set<string> = new Set()): void {
  const all = listCheckpoints(dir);
  for (const checkpoint of all.slice(0, Math.max(0, all.length - keepLast))) {
    if (keep.has(checkpoint)) continue;
    const doomed = path.join(dir, `${TEMP_MARK}pruned-${path.basename(checkpoint)}-${process.pid}`);
    fs.renameSync(checkpoint, doomed);
    fs.rmSync(doomed, { recursive: true, force: true });
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
