import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { machineFacts, requestedBackend, selectBackend, BACKENDS } from '../../../framework/backend.js';
import { nativeKernelStatus } from '../../../framework/kernels/native/onednn-kernels.js';
import { SIMD_KERNELS_FILE, simdKernelsOf } from '../../../framework/kernels/simd/index.js';
import { describeAdapter } from '../../../framework/webgpu.js';

/** `xp doctor`: which backend xp would use here, what runs each kernel family, why the better ones were skipped, and the WebGPU adapter (or why there is none). */
export async function doctor(opts: { backend?: string }): Promise<void> {
  const report = await selectBackend(requestedBackend(opts.backend));
  const facts = machineFacts();
  const lines = [`backend:      ${report.chosen}`];
  for (const s of report.skipped) lines.push(`  skipped ${s.name}: ${s.reason}`);
  const worse = BACKENDS.slice(BACKENDS.indexOf(report.chosen) + 1);
  if (worse.length) lines.push(`  fallbacks:  ${worse.join(', ')}`);
  if (report.adapter) lines.push(`adapter:      ${describeAdapter(report.adapter)}`);
  if (report.chosen === 'wasm') lines.push(...wasmKernelLines());
  lines.push(
    `tfjs:         ${facts.tfjsVersion}`,
    `node:         ${facts.node}`,
    `cores:        ${facts.cores}`,
    `memory:       ${facts.memoryGiB.toFixed(1)} GiB`,
    `gpu visible:  ${facts.gpuVisible ? 'yes' : 'no'}`,
  );
  console.log(lines.join('\n'));
}

/** What runs each kernel family on the wasm backend, and why. */
function wasmKernelLines(): string[] {
  const native = nativeKernelStatus();
  const convolutions = native.active
    ? `native: ${native.detail}`
    : `wasm: XNNPACK forward; dx and dW as XNNPACK forward convolutions (xp's wasm kernels). Native kernels not used: ${native.detail}`;
  const products = native.active ? `native: ${native.detail}` : 'wasm: XNNPACK, small batched products in xp\'s SIMD loop';
  const simdBuilt = simdKernelsOf(tf.backend() as BackendWasm) !== undefined;
  const gelu = native.active ? 'native: oneDNN gelu_erf' : simdBuilt ? 'wasm: xp\'s SIMD loop' : 'wasm: a JavaScript loop';
  const simd = simdBuilt
    ? `${SIMD_KERNELS_FILE} (${native.active ? '' : 'GELU, normalization, '}Adam, EMA)`
    : 'not built (npm run build:simd); GELU, normalization, Adam and EMA run as slower JavaScript loops';
  return [
    `convolutions: ${convolutions}`,
    `matmul:       ${products}`,
    `gelu:         ${gelu}`,
    ...(native.active ? ['native also: normalization, add/multiply, softmax, sums, max-pool and bilinear-resize gradients, concat/split'] : []),
    `wasm SIMD:    ${simd}`,
    'other ops:    wasm (tfjs-backend-wasm)',
  ];
}
