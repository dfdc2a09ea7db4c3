/**
 * Compute backend selection. `auto` takes the first backend that loads, best first;
 * a forced backend that cannot load is an error that says how to get it. `webgpu` counts in
 * `auto` only on a hardware adapter: a software one (lavapipe) is far slower than wasm, so it
 * is used only when asked for by name.
 */
import os from 'node:os';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { BackendError, XpError } from './errors.js';
import { registerFusedKernels } from './kernels/fused-kernels.js';
import type { WebGpuAdapter } from './webgpu.js';

export const BACKENDS = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

export interface BackendReport {
  chosen: BackendName;
  /** The WebGPU adapter, where the chosen backend is webgpu. */
  adapter?: WebGpuAdapter;
  /** Why each better backend was not used (only for `auto`). */
  skipped: { name: BackendName; reason: string }[];
}

export { BackendError };

interface BackendLoader {
  /** The tfjs backend name the package registers. */
  tfName: string;
  /** `forced`: asked for by name, not tried by `auto`. Returns the WebGPU adapter for webgpu. */
  load(forced: boolean): Promise<WebGpuAdapter | void>;
  /** How to get this backend where it does not load. */
  installHint: string;
}

const TENSORFLOW_HINT =
  'it downloads libtensorflow when installed, so it is absent where that download failed';

const LOADERS: Record<BackendName, BackendLoader> = {
  'tensorflow-gpu': {
    tfName: 'tensorflow',
    load: () => importOptional('@tensorflow/tfjs-node-gpu'),
    installHint:
      `npm install @tensorflow/tfjs-node-gpu@4.22.0 on Linux with CUDA 11.2 and cuDNN 8.1 (${TENSORFLOW_HINT})`,
  },
  webgpu: {
    tfName: 'webgpu',
    load: async (forced) => {
      const { findWebGpuAdapter, describeAdapter, registerWebGpuBackend } = await import('./webgpu.js');
      const adapter = await findWebGpuAdapter();
      if (adapter.software && !forced) {
        throw new BackendError(`only a software adapter, ${describeAdapter(adapter)}: far slower than wasm, so used only with --backend webgpu`);
      }
      await registerWebGpuBackend();
      return adapter;
    },
    installHint:
      'npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0, and a Vulkan driver with libvulkan1 (README: Compute backends)',
  },
  tensorflow: {
    tfName: 'tensorflow',
    load: () => importOptional('@tensorflow/tfjs-node'),
    installHint: `npm install @tensorflow/tfjs-node@4.22.0 (${TENSORFLOW_HINT})`,
  },
  wasm: {
    tfName: 'wasm',
    load: async () => {
      await import('@tensorflow/tfjs-backend-wasm');
      // Native kernels come off first: xp's wasm kernels keep what they displace as their own fallback.
      const native = await import('./kernels/native/onednn-kernels.js');
      native.unregisterNativeKernels();
      const { registerWasmTrainingKernels } = await import('./kernels/wasm-kernels.js');
      registerWasmTrainingKernels();
      // The fused GELU and normalization too: native ones displace them (tryBackend's call then finds them registered).
      registerFusedKernels('wasm');
      native.registerNativeKernels();
    },
    installHint: 'npm install @tensorflow/tfjs-backend-wasm@4.22.0',
  },
  cpu: { tfName: 'cpu', load: async () => {}, installHint: 'npm install @tensorflow/tfjs@4.22.0' },
};

async function importOptional(pkg: string): Promise<void> {
  try {
    await import(pkg);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes(pkg)) {
      throw new BackendError(
        `${pkg} is not installed (an optional dependency: its install downloads libtensorflow, which failed or was skipped here)`,
      );
    }
    throw new BackendError(`${pkg} is installed but failed to load: ${firstLine(e.message)}`);
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}

/** The requested backend: command line first, then XP_BACKEND, then the experiment, then auto. */
export function requestedBackend(flag?: string, experiment?: string): BackendChoice {
  const value = flag ?? process.env.XP_BACKEND ?? experiment ?? 'auto';
  if (value !== 'auto' && !(BACKENDS as readonly string[]).includes(value)) {
    throw new BackendError(`unknown backend '${value}'; expected one of auto, ${BACKENDS.join(', ')}`);
  }
  return value as BackendChoice;
}

async function tryBackend(name: BackendName, forced: boolean): Promise<WebGpuAdapter | undefined> {
  const loader = LOADERS[name];
  const adapter = (await loader.load(forced)) ?? undefined;
  let ok = false;
  try {
    ok = await tf.setBackend(loader.tfName);
  } catch (err) {
    throw new BackendError(`backend '${loader.tfName}' failed to initialize: ${firstLine(String(err))}`);
  }
  if (!ok) throw new BackendError(`backend '${loader.tfName}' failed to initialize`);
  registerFusedKernels(loader.tfName);
  if (name === 'tensorflow-gpu' && !gpuVisible()) {
    throw new BackendError('@tensorflow/tfjs-node-gpu loaded but no NVIDIA GPU is visible');
  }
  return adapter;
}

// tfjs has one global engine, so selections run one after another, never interleaved.
let pending: Promise<unknown> = Promise.resolve();

/** Selects and initializes a backend; `auto` falls through the list, best first. */
export function selectBackend(choice: BackendChoice): Promise<BackendReport> {
  const next = pending.then(() => selectNow(choice));
  pending = next.catch(() => undefined);
  return next;
}

async function selectNow(choice: BackendChoice): Promise<BackendReport> {
  if (choice !== 'auto') {
    let adapter: WebGpuAdapter | undefined;
    try {
      adapter = await tryBackend(choice, true);
    } catch (err) {
      const reason = err instanceof BackendError ? err.message : String(err);
      throw new BackendError(
        `backend '${choice}' cannot be used: ${reason}. To get it: ${LOADERS[choice].installHint}`,
      );
    }
    return { chosen: choice, skipped: [], adapter };
  }
  const skipped: BackendReport['skipped'] = [];
  for (const name of BACKENDS) {
    try {
      const adapter = await tryBackend(name, false);
      return { chosen: name, skipped, adapter };
    } catch (err) {
      skipped.push({ name, reason: err instanceof BackendError ? err.message : String(err) });
    }
  }
  throw new BackendError(`no backend could be loaded:\n${skipped.map((s) => `  ${s.name}: ${s.reason}`).join('\n')}`);
}

/** True where an NVIDIA driver exposes a GPU to this machine. */
export function gpuVisible(): boolean {
  return fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidia0');
}

export interface MachineFacts {
  tfjsVersion: string;
  cores: number;
  memoryGiB: number;
  gpuVisible: boolean;
  node: string;
}

export function machineFacts(): MachineFacts {
  return {
    tfjsVersion: tf.version.tfjs,
    cores: os.cpus().length,
    memoryGiB: os.totalmem() / 2 ** 30,
    gpuVisible: gpuVisible(),
    node: process.version,
  };
}
