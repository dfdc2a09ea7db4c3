/** What the main thread and a gradient worker (gradient-worker.ts) say to each other. */
import type { BackendName } from '../backend.js';
import type { ConfigMap } from '../config/load.js';

export interface WorkerSetup {
  /** The modules the main thread's registry was filled from (Registry.modules). */
  modules: string[];
  experiment: ConfigMap;
  backend: BackendName;
  examplesPerPass: number;
}

/** A tensor as it crosses threads. */
export interface TensorData {
  values: Float32Array | Int32Array;
  shape: number[];
  dtype: 'float32' | 'int32';
}

export interface ShareRequest {
  weights: Float32Array[];
  inputs: Record<string, TensorData>;
  share: number;
}

export interface ShareResult {
  loss: number;
  grads: Float32Array[];
}
