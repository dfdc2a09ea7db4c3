/**
 * Data parallelism over worker threads: the batch is cut into one share per thread, each
 * thread (this one included) computes its share's gradients with its own engine on its own
 * core, and the shares' gradients, weighted by their size, are summed in a fixed order, so a
 * run stays deterministic for a given number of threads.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { Denoiser } from '../interfaces.js';
import type { ConfigMap } from '../config/load.js';
import type { BackendName } from '../backend.js';
import { addInto, LocalGradients, type BatchGradients, type GradientComputer } from './gradients.js';
import type { NoisedBatch } from './slices.js';
import type { ShareRequest, ShareResult, WorkerSetup } from './gradient-worker.js';

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
    model: Denoiser,
    private readonly local: LocalGradients,
    private readonly workers: Worker[],
  ) {
    this.variables = [...model.variables().values()];
  }

  /** Starts `threads - 1` workers, each with its own copy of the experiment's model. */
  static async start(
    model: Denoiser,
    experiment: ConfigMap,
    backend: BackendName,
    examplesPerPass: number,
    threads: number,
  ): Promise<ParallelGradients> {
    const setup: WorkerSetup = { experiment, backend, examplesPerPass };
    const workers = await Promise.all(Array.from({ length: threads - 1 }, () => startWorker(setup)));
    return new ParallelGradients(model, new LocalGradients(model, examplesPerPass), workers);
  }

  async compute(batch: NoisedBatch): Promise<BatchGradients> {
    const n = batch.xt.shape[0];
    const bounds = shareBounds(n, this.workers.length + 1);
    const weights = this.variables.map((v) => v.dataSync() as Float32Array);
    const [xt, noise, t] = [batch.xt.dataSync() as Float32Array, batch.noise.dataSync() as Float32Array, batch.t.dataSync() as Int32Array];
    const perExample = xt.length / n;
    const remote = this.workers.map((worker, i) => {
      const [start, end] = bounds[i + 1];
      const request: ShareRequest = {
        weights,
        xt: xt.slice(start * perExample, end * perExample),
        noise: noise.slice(start * perExample, end * perExample),
        t: t.slice(start, end),
        shape: [end - start, ...(batch.xt.shape.slice(1) as [number, number, number])],
        share: (end - start) / n,
      };
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

  private async localShare(batch: NoisedBatch, start: number, end: number, share: number): Promise<BatchGradients> {
    const count = end - start;
    const part = {
      xt: tf.slice(batch.xt, [start, 0, 0, 0], [count, -1, -1, -1]),
      t: tf.slice(batch.t, [start], [count]),
      noise: tf.slice(batch.noise, [start, 0, 0, 0], [count, -1, -1, -1]),
    };
    const { loss, grads } = await this.local.compute(part);
    tf.dispose([part.xt, part.t, part.noise]);
    const weighted = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.mul(g, share)])));
    tf.dispose(Object.values(grads));
    return { loss: loss * share, grads: weighted };
  }

  dispose(): void {
    for (const worker of this.workers) void worker.terminate();
  }
}

/**
 * Gradients of the model's batches on `threads` threads of the current backend: this thread
 * alone for one, shares of each batch on worker threads too for more.
 */
export async function startGradients(model: Denoiser, experiment: ConfigMap, examplesPerPass: number, threads: number): Promise<GradientComputer> {
  if (threads <= 1) return new LocalGradients(model, examplesPerPass);
  return ParallelGradients.start(model, experiment, tf.getBackend() as BackendName, examplesPerPass, threads);
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
