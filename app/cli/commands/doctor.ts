import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { machineFacts, requestedBackend, selectBackend, BACKENDS } from '../../../framework/backend.js';
import { SIMD_KERNELS_FILE, simdKernelsOf } from '../../../framework/kernels/simd/index.js';
import { describeAdapter } from '../../../framework/webgpu.js';

/** `xp doctor`: which backend xp would use here, why the better ones were skipped, and the WebGPU adapter (or why there is none). */
export async function doctor(opts: { backend?: string }): Promise<void> {
  const report = await selectBackend(requestedBackend(opts.backend));
  const facts = machineFacts();
  const lines = [`backend:      ${report.chosen}`];
  for (const s of report.skipped) lines.push(`  skipped ${s.name}: ${s.reason}`);
  const worse = BACKENDS.slice(BACKENDS.indexOf(report.chosen) + 1);
  if (worse.length) lines.push(`  fallbacks:  ${worse.join(', ')}`);
  if (report.adapter) lines.push(`adapter:      ${describeAdapter(report.adapter)}`);
  if (report.chosen === 'wasm') {
    lines.push(simdKernelsOf(tf.backend() as BackendWasm)
      ? `wasm SIMD:    ${SIMD_KERNELS_FILE}`
      : `wasm SIMD:    not built (npm run build:simd); GELU, normalization, Adam and EMA run as slower JavaScript loops`);
  }
  lines.push(
    `tfjs:         ${facts.tfjsVersion}`,
    `node:         ${facts.node}`,
    `cores:        ${facts.cores}`,
    `memory:       ${facts.memoryGiB.toFixed(1)} GiB`,
    `gpu visible:  ${facts.gpuVisible ? 'yes' : 'no'}`,
  );
  console.log(lines.join('\n'));
}
