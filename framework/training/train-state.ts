/**
 * The part of a checkpoint every trainer writes: the model's weights, the optimizer's moments
 * and the data order. A trainer adds what only it has (noise stream, callbacks, averages) to
 * the CheckpointData these functions make and read.
 */
import type * as tf from '@tensorflow/tfjs';
import type { BatchSource, BatchSourceState } from '../data/batches.js';
import type { CheckpointData } from '../run/checkpoint.js';
import { XpError } from '../errors.js';

export interface TrainParts {
  variables: Map<string, tf.Variable>;
  optimizer: tf.Optimizer;
  batches: BatchSource;
}

const MODEL = 'model';
const OPTIMIZER = 'optimizer';

/** Tensors `model/<variable>` and `optimizer/<i>`; the data order as `state.data`. */
export async function captureTrainState({ variables, optimizer, batches }: TrainParts): Promise<CheckpointData> {
  const tensors = new Map<string, tf.Tensor>();
  putVariables(tensors, MODEL, variables);
  (await optimizer.getWeights()).forEach((w, i) => tensors.set(`${OPTIMIZER}/${i}`, w.tensor));
  return { state: { data: batches.state() }, tensors };
}

/** Puts back what captureTrainState took; returns the step the checkpoint was written at. */
export async function restoreTrainState({ state, tensors }: CheckpointData, { variables, optimizer, batches }: TrainParts): Promise<number> {
  takeVariables(tensors, MODEL, variables);
  const moments = [...tensors].filter(([name]) => name.startsWith(`${OPTIMIZER}/`));
  // setWeights is positional: numeric order, whatever order the map holds them in.
  moments.sort(([a], [b]) => Number(a.split('/')[1]) - Number(b.split('/')[1]));
  if (moments.length) await optimizer.setWeights(moments.map(([name, tensor]) => ({ name, tensor })));
  batches.restore(state.data as BatchSourceState);
  return Number(state.step);
}

/** Adds each variable as `<prefix>/<name>`. */
export function putVariables(tensors: Map<string, tf.Tensor>, prefix: string, variables: Map<string, tf.Tensor>): void {
  for (const [name, v] of variables) tensors.set(`${prefix}/${name}`, v);
}

/**
 * Assigns each variable its `<prefix>/<name>` tensor; a missing one means another model's
 * checkpoint (`source` names it in the error).
 */
export function takeVariables(
  tensors: Map<string, tf.Tensor>, prefix: string, variables: Map<string, tf.Variable>, source = 'the checkpoint',
): void {
  for (const [name, v] of variables) {
    const saved = tensors.get(`${prefix}/${name}`);
    if (!saved) throw new XpError(`${source} has no '${prefix}/${name}': it belongs to another model`);
    v.assign(saved);
  }
}
