/**
 * `npm run bench [-- --backend <name>] [benchmark...]`: runs the named benchmarks (all of them
 * by default) on one backend, wasm unless --backend or XP_BACKEND says otherwise, prints each
 * report and writes its numbers to bench/results-<name>.json. A new benchmark is a module
 * exporting a `Benchmark` (bench/harness.ts), added to BENCHMARKS.
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

const BENCHMARKS: Benchmark[] = [kernels, models];
const DEFAULT_BACKEND = 'wasm';
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

function chooseBenchmarks(names: string[]): Benchmark[] {
  if (names.length === 0) return BENCHMARKS;
  return names.map((name) => {
    const found = BENCHMARKS.find((b) => b.name === name);
    if (!found) throw new XpError(`unknown benchmark '${name}'; expected one of ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    return found;
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { backend: { type: 'string' } }, allowPositionals: true });
  const chosen = chooseBenchmarks(positionals);
  const { chosen: backend } = await selectBackend(requestedBackend(values.backend, DEFAULT_BACKEND));
  for (const benchmark of chosen) {
    console.log(`\n# ${benchmark.name} on ${backend}: ${benchmark.description}\n`);
    const started = performance.now();
    const result = await benchmark.run({ backend });
    const seconds = (performance.now() - started) / 1000;
    console.log(`${result.report}\n\n(${seconds.toFixed(0)} s)`);
    const file = path.join(BENCH_DIR, `results-${benchmark.name}.json`);
    const record = { benchmark: benchmark.name, backend, date: new Date().toISOString(), seconds, machine: machineFacts(), ...result.data };
    fs.writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
    console.log(`JSON: ${path.relative(process.cwd(), file)}`);
  }
}

main().catch((err) => {
  console.error(err instanceof XpError ? `error: ${err.message}` : err);
  process.exitCode = 1;
});
