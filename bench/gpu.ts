/** The GPU a benchmark runs on, where there is one, and its FP32 peak for the share a model reaches. */
import type { BackendReport } from '../framework/backend.js';
import type { BenchmarkContext } from './harness.js';

/**
 * Dense FP32 (CUDA-core, not tensor-core) peaks in TFLOP/s, from the vendors' datasheets, by a
 * pattern of the adapter's name (Dawn names an H200 'nvidia-h200'); the first match counts, so the
 * specific names come first.
 */
const FP32_PEAK_TFLOPS: [RegExp, number][] = [
  [/H200[ -]NVL/i, 60.3],
  [/H200/i, 66.9],
  [/H100[ -]PCIe/i, 51.2],
  [/H100/i, 66.9],
  [/A100/i, 19.5],
  [/RTX[ -]4090/i, 82.6],
  [/RTX[ -]3070/i, 20.3],
];

/** `fp32PeakTflops`: the --fp32-peak flag, which overrides the table (for a GPU it lacks). */
export function gpuOf(report: BackendReport, fp32PeakTflops?: number): BenchmarkContext['gpu'] {
  const { adapter } = report;
  if (report.chosen === 'tensorflow-gpu') return { name: 'CUDA device (tfjs-node-gpu)', fp32PeakTflops };
  if (report.chosen !== 'webgpu' || !adapter || adapter.software) return undefined;
  const name = `${adapter.device || adapter.vendor} (${adapter.description})`;
  const known = FP32_PEAK_TFLOPS.find(([pattern]) => pattern.test(name))?.[1];
  return { name, adapter, fp32PeakTflops: fp32PeakTflops ?? known };
}
