/**
 * A worker thread that computes gradients on its share of each batch with its own copy of
 * the model and objective (its own tfjs engine, so its own core). It builds them the way the
 * main thread did: a registry filled from the same modules, the same experiment. The main
 * thread sends the current weights with every share and sums what comes back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend.js';
import { assemble } from '../container/assembly.js';
import { TOKENS } from '../container/tokens.js';
import { loadModules } from '../plugins/load.js';
import { Registry } from '../registry/registry.js';
import type { Objective, PreparedBatch, Trainable } from '../interfaces.js';
import { LocalGradients } from './gradients.js';
import type { ShareRequest, ShareResult, WorkerSetup } from './worker-messages.js';

async function start(setup: WorkerSetup): Promise<void> {
  await selectBackend(setup.backend);
  const registry = new Registry();
  await loadModules(registry, setup.modules);
  const container = assemble({ value: setup.experiment, registry });
  const model = container.get<Trainable>(TOKENS.Model);
  const variables = [...model.variables().values()];
  const local = new LocalGradients(model, container.get<Objective>(TOKENS.Objective), setup.examplesPerPass);
  parentPort!.on('message', async (request: ShareRequest) => {
    tf.tidy(() => variables.forEach((v, i) => v.assign(tf.tensor(request.weights[i], v.shape))));
    const inputs: PreparedBatch = Object.fromEntries(
      Object.entries(request.inputs).map(([name, t]) => [name, tf.tensor(t.values, t.shape, t.dtype)]),
    );
    const { loss, grads } = await local.compute(inputs, request.share);
    const arrays = (await Promise.all(variables.map((v) => grads[v.name].data()))) as Float32Array[];
    tf.dispose([...Object.values(inputs), ...Object.values(grads)]);
    const result: ShareResult = { loss, grads: arrays };
    parentPort!.postMessage(result, arrays.map((a) => a.buffer as ArrayBuffer));
  });
  parentPort!.postMessage('ready');
}

await start(workerData as WorkerSetup);
