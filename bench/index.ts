/**
 * `npm run bench [-- --backend <name>] [benchmark...] [--vs-pytorch] [--fp32-peak TFLOPS]`: runs
 * the named benchmarks (kernels, models, board and config by default, on webgpu those not marked CPU-only; native and threads, which need the native kernels, when named) on one
 * backend, wasm unless --backend or XP_BACKEND says otherwise,
 * prints each report and keeps its numbers in bench/results.json, which holds the latest run of
 * every benchmark. --vs-pytorch adds the comparison with PyTorch (alone if no benchmark is
 * named); it is not among the defaults, since it needs PyTorch installed. A new benchmark is a
 * module exporting a `Benchmark` (bench/harness.ts), added to BENCHMARKS. On a GPU the models
 * benchmark reports the share of its FP32 peak: bench/gpu.ts knows a few GPUs' peaks, and
 * --fp32-peak gives it for another.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineFacts, requestedBackend, selectBackend } from '../framework/backend.js';
import { XpError } from '../framework/errors.js';
import type { Benchmark } from './harness.js';
import { board } from './board.js';
import { config } from './config.js';
import { kernels } from './kernels.js';
import { models } from './models.js';
import { nativeKernels } from './native-kernels.js';
import { threads } from './threads.js';
import { vsPytorch } from './vs-pytorch.js';
import { gpuOf } from './gpu.js';

const BENCHMARKS: Benchmark[] = [kernels, models, board, config];
/** Run only when named: they need the native kernels built. */
const ON_REQUEST: Benchmark[] = [nativeKernels, threads];
const DEFAULT_BACKEND = 'wasm';
const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.json');

function chooseBenchmarks(names: string[], withPytorch: boolean): Benchmark[] {
  if (names.length === 0) return withPytorch ? [vsPytorch] : BENCHMARKS;
  const named = names.map((name) => {
    const found = [...BENCHMARKS, ...ON_REQUEST].find((b) => b.name === name);
    if (!found) throw new XpError(`unknown benchmark '${name}'; expected one of ${[...BENCHMARKS, ...ON_REQUEST].map((b) => b.name).join(', ')} (or --vs-pytorch)`);
    return found;
  });
  return withPytorch ? [...named, vsPytorch] : named;
}

/** Replaces the benchmark's entry in bench/results.json and keeps the other benchmarks' latest runs. */
function saveResult(name: string, record: object): void {
  const all = fs.existsSync(RESULTS) ? (JSON.parse(fs.readFileSync(RESULTS, 'utf8')) as Record<string, object>) : {};
  all[name] = record;
  fs.writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { backend: { type: 'string' }, 'vs-pytorch': { type: 'boolean', default: false }, 'fp32-peak': { type: 'string' } },
    allowPositionals: true,
  });
  const fp32Peak = values['fp32-peak'] === undefined ? undefined : Number(values['fp32-peak']);
  if (fp32Peak !== undefined && !(fp32Peak > 0)) throw new XpError(`--fp32-peak must be a positive number of TFLOP/s, got '${values['fp32-peak']}'`);
  const named = chooseBenchmarks(positionals, values['vs-pytorch']);
  // Before anything runs: a missing tool should not surface after minutes of other benchmarks.
  for (const benchmark of named) await benchmark.requirements?.();
  const report = await selectBackend(requestedBackend(values.backend, DEFAULT_BACKEND));
  const backend = report.chosen;
  const gpu = gpuOf(report, fp32Peak);
  const onDevice = backend === 'webgpu' || backend === 'tensorflow-gpu';
  const chosen = named.filter((b) => positionals.length > 0 || !(b.cpuOnly && onDevice));
  for (const benchmark of chosen) {
    console.log(`\n# ${benchmark.name} on ${backend}${gpu ? ` (${gpu.name})` : ''}: ${benchmark.description}\n`);
    const started = performance.now();
    const result = await benchmark.run({ backend, gpu });
    const seconds = (performance.now() - started) / 1000;
    console.log(`${result.report}\n\n(${seconds.toFixed(0)} s)`);
    saveResult(benchmark.name, { benchmark: benchmark.name, backend, date: new Date().toISOString(), seconds, machine: machineFacts(), ...result.data });
    console.log(`JSON: ${path.relative(process.cwd(), RESULTS)} (${benchmark.name})`);
  }
}

main().catch((err) => {
  console.error(err instanceof XpError ? `error: ${err.message}` : err);
  process.exitCode = 1;
});
