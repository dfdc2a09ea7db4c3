/**
 * The SIMD kernels of kernels.as.ts (built to kernels.wasm by `npm run build:simd`), one
 * instance per wasm backend, inside that backend's own memory: they take its tensors' byte
 * offsets. Where kernels.wasm was not built, there are none and fused-kernels.ts runs its
 * JavaScript loops.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { packageRoot } from '../../paths.js';

export interface SimdKernels {
  gelu(x: number, out: number, n: number): void;
  geluGrad(x: number, dy: number, dx: number, n: number): void;
  normalize(x: number, gamma: number, beta: number, out: number, statistics: number, n: number, groupSize: number, channels: number, epsilon: number): void;
  normalizeGrad(x: number, gamma: number, dy: number, statistics: number, dx: number, dGamma: number, dBeta: number, n: number, groupSize: number, channels: number): void;
  adam(
    value: number, m: number, v: number, g: number, newValue: number, newM: number, newV: number, n: number,
    learningRate: number, beta1: number, beta2: number, epsilon: number, correction1: number, correction2: number,
  ): void;
  movingAverage(average: number, value: number, out: number, n: number, beta: number): void;
  batchMatMul(a: number, b: number, out: number, batch: number, m: number, k: number, n: number, strideA: number, strideB: number): void;
}

// The WebAssembly API as used here (tsconfig's lib has no DOM, where TypeScript declares it).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: object };
};
type WasmModule = { readonly kind?: 'WebAssembly.Module' };

export const SIMD_KERNELS_FILE = path.join(packageRoot, 'framework', 'kernels', 'simd', 'kernels.wasm');

let compiled: WasmModule | null | undefined;
const instances = new WeakMap<BackendWasm, SimdKernels>();

/** The backend's SIMD kernels, instantiated on first use; undefined where kernels.wasm is missing. */
export function simdKernelsOf(backend: BackendWasm): SimdKernels | undefined {
  compiled ??= fs.existsSync(SIMD_KERNELS_FILE) ? new WebAssembly.Module(fs.readFileSync(SIMD_KERNELS_FILE)) : null;
  if (!compiled) return undefined;
  let kernels = instances.get(backend);
  if (!kernels) {
    // tfjs-backend-wasm keeps its Emscripten module's exports, the memory among them, as `asm`.
    const { memory } = (backend.wasm as unknown as { asm: { memory: object } }).asm;
    kernels = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(backend, kernels);
  }
  return kernels;
}

/** Where a tensor's values start in the backend's memory, in bytes. */
export function heapOffset(backend: BackendWasm, tensor: { dataId: object }): number {
  return (backend.dataIdMap.get(tensor.dataId) as unknown as { memoryOffset: number }).memoryOffset;
}
