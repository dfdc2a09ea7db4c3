/**
 * `npm run bench [-- --backend <name>] [benchmark...] [--vs-pytorch]`: runs the named benchmarks
 * (kernels and models by default; native and threads, which need the native kernels, when named) on one backend, wasm unless --backend or XP_BACKEND says otherwise,
 * prints each report and keeps its numbers in bench/results.json, which holds the latest run of
 * every benchmark. --vs-pytorch adds the comparison with PyTorch (alone if no benchmark is
 * named); it is not among the defaults, since it needs PyTorch installed. A new benchmark is a
 * module exporting a `Benchmark` (bench/harness.ts), added to BENCHMARKS.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineFacts, requestedBackend, selectBackend } from '../framework/backend.js';
import { XpError } from '../framework/errors.js';
import type { Benchmark } from './harness.js';
import { kernels } from './kernels.js';
import { models } from './models.js';
import { nativeKernels } from './native-kernels.js';
import { threads } from './threads.js';
import { vsPytorch } from './vs-pytorch.js';

const BENCHMARKS: Benchmark[] = [kernels, models];
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
    options: { backend: { type: 'string' }, 'vs-pytorch': { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const chosen = chooseBenchmarks(positionals, values['vs-pytorch']);
  // Before anything runs: a missing tool should not surface after minutes of other benchmarks.
  for (const benchmark of chosen) await benchmark.requirements?.();
  const { chosen: backend } = await selectBackend(requestedBackend(values.backend, DEFAULT_BACKEND));
  for (const benchmark of chosen) {
    console.log(`\n# ${benchmark.name} on ${backend}: ${benchmark.description}\n`);
    const started = performance.now();
    const result = await benchmark.run({ backend });
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
