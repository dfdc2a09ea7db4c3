/**
 * A worker thread that computes gradients on its share of each batch with its own copy of
 * the model (its own tfjs engine, so its own core). The main thread sends the current weights
 * with every share and sums what comes back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../backend.js';
import { assemble } from '../container/assembly.js';
import { TOKENS } from '../container/tokens.js';
import { loadComponentModules } from '../plugins/load.js';
import type { Denoiser } from '../interfaces.js';
import type { ConfigMap } from '../config/load.js';
import { LocalGradients } from './gradients.js';
import { valuesOf } from '../tensors.js';

export interface WorkerSetup {
  experiment: ConfigMap;
  backend: BackendName;
  examplesPerPass: number;
}

export interface ShareRequest {
  weights: Float32Array[];
  xt: Float32Array;
  t: Int32Array;
  noise: Float32Array;
  shape: [number, number, number, number];
  share: number;
}

export interface ShareResult {
  loss: number;
  grads: Float32Array[];
}

async function start(setup: WorkerSetup): Promise<void> {
  await selectBackend(setup.backend);
  await import('../../components/index.js');
  await loadComponentModules((setup.experiment.imports as string[] | undefined) ?? []);
  const model = assemble(setup.experiment).get(TOKENS.Model) as Denoiser;
  const variables = [...model.variables().values()];
  const local = new LocalGradients(model, setup.examplesPerPass);
  parentPort!.on('message', async (request: ShareRequest) => {
    tf.tidy(() => variables.forEach((v, i) => v.assign(tf.tensor(request.weights[i], v.shape))));
    const xt = tf.tensor4d(request.xt, request.shape);
    const noise = tf.tensor4d(request.noise, request.shape);
    const t = tf.tensor1d(request.t, 'int32');
    const { loss, grads } = await local.compute({ xt, t, noise });
    const arrays = variables.map((v) => valuesOf(() => tf.mul(grads[v.name], request.share)) as Float32Array);
    tf.dispose([xt, noise, t, ...Object.values(grads)]);
    const result: ShareResult = { loss: loss * request.share, grads: arrays };
    parentPort!.postMessage(result, arrays.map((a) => a.buffer as ArrayBuffer));
  });
  parentPort!.postMessage('ready');
}

await start(workerData as WorkerSetup);
