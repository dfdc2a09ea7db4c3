/**
 * Data parallelism over worker threads: the batch is cut into one share per thread, each
 * thread (this one included) computes its share's gradients with its own engine on its own
 * core, and the shares' gradients, weighted by their size, are summed in a fixed order, so a
 * run stays deterministic for a given number of threads.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { Objective, PreparedBatch, Trainable } from '../interfaces.js';
import type { BackendName } from '../backend.js';
import { addInto, LocalGradients, type BatchGradients, type GradientComputer } from './gradients.js';
import { batchSize, sliceBatch } from './slices.js';
import type { ShareRequest, ShareResult, TensorData, WorkerSetup } from './worker-messages.js';

const fromSource = import.meta.url.endsWith('.ts');
const workerFile = new URL(`./gradient-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);

/** Running from source (tests), the worker first registers tsx to load TypeScript, as this thread did. */
function spawnWorker(setup: WorkerSetup): Worker {
  if (!fromSource) return new Worker(workerFile, { workerData: setup });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${tsx}).then(({ register }) => { register(); return import(${JSON.stringify(workerFile.href)}); });`;
  return new Worker(code, { eval: true, workerData: setup });
}

export class ParallelGradients implements GradientComputer {
  /** The model's variables in the order workers exchange weights and gradients. */
  private readonly variables: tf.Variable[];

  private constructor(
    model: Trainable,
    private readonly local: LocalGradients,
    private readonly workers: Worker[],
  ) {
    this.variables = [...model.variables().values()];
  }

  /** Starts `threads - 1` workers, each with its own copy of the experiment's model and objective. */
  static async start(local: LocalGradients, model: Trainable, setup: WorkerSetup, threads: number): Promise<ParallelGradients> {
    const workers = await Promise.all(Array.from({ length: threads - 1 }, () => startWorker(setup)));
    return new ParallelGradients(model, local, workers);
  }

  async compute(batch: PreparedBatch): Promise<BatchGradients> {
    const n = batchSize(batch);
    const bounds = shareBounds(n, this.workers.length + 1);
    const weights = (await Promise.all(this.variables.map((v) => v.data()))) as Float32Array[];
    const inputs = await readBatch(batch);
    const remote = this.workers.map((worker, i) => {
      const [start, end] = bounds[i + 1];
      const request: ShareRequest = { weights, inputs: shareOf(inputs, start, end), share: (end - start) / n };
      return ask(worker, request);
    });
    const [start, end] = bounds[0];
    const mine = await this.localShare(batch, start, end, (end - start) / n);
    let { loss, grads } = mine;
    for (const result of await Promise.all(remote)) {
      loss += result.loss;
      const theirs = Object.fromEntries(this.variables.map((v, i) => [v.name, tf.tensor(result.grads[i], v.shape)]));
      grads = addInto(grads, theirs);
    }
    return { loss, grads };
  }

  private async localShare(batch: PreparedBatch, start: number, end: number, share: number): Promise<BatchGradients> {
    const part = sliceBatch(batch, start, end - start);
    try {
      return await this.local.compute(part, share);
    } finally {
      tf.dispose(Object.values(part));
    }
  }

  dispose(): void {
    for (const worker of this.workers) void worker.terminate();
  }
}

/**
 * Gradients of the objective over the model's batches on `threads` threads of the current
 * backend: this thread alone for one, shares of each batch on worker threads too for more
 * (each builds its own model and objective from `setup`).
 */
export async function startGradients(
  model: Trainable,
  objective: Objective,
  setup: Omit<WorkerSetup, 'backend'>,
  threads: number,
): Promise<GradientComputer> {
  const local = new LocalGradients(model, objective, setup.examplesPerPass);
  if (threads <= 1) return local;
  return ParallelGradients.start(local, model, { ...setup, backend: tf.getBackend() as BackendName }, threads);
}

/** Every tensor of a batch as values that can cross to another thread. */
async function readBatch(batch: PreparedBatch): Promise<Record<string, TensorData>> {
  const entries = await Promise.all(
    Object.entries(batch).map(async ([name, t]) => {
      const values = (await t.data()) as Float32Array | Int32Array;
      return [name, { values, shape: t.shape, dtype: t.dtype as TensorData['dtype'] }] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/** Examples [start, end) of every tensor. */
function shareOf(inputs: Record<string, TensorData>, start: number, end: number): Record<string, TensorData> {
  return Object.fromEntries(
    Object.entries(inputs).map(([name, t]) => {
      const perExample = t.values.length / t.shape[0];
      const values = t.values.slice(start * perExample, end * perExample);
      return [name, { values, shape: [end - start, ...t.shape.slice(1)], dtype: t.dtype }];
    }),
  );
}

/** [start, end) of each of `parts` near-equal shares of n examples. */
function shareBounds(n: number, parts: number): [number, number][] {
  return Array.from({ length: parts }, (_, i) => [Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)]);
}

function startWorker(setup: WorkerSetup): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = spawnWorker(setup);
    worker.once('message', (message) => (message === 'ready' ? resolve(worker) : reject(new Error(String(message)))));
    worker.once('error', reject);
  });
}

function ask(worker: Worker, request: ShareRequest): Promise<ShareResult> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    worker.once('error', onError);
    worker.once('message', (result: ShareResult) => {
      worker.off('error', onError);
      resolve(result);
    });
    worker.postMessage(request);
  });
}
