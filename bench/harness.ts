/** What every benchmark shares: its contract with bench/index.ts, timing, and table printing. */
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../framework/backend.js';
import { readValues } from '../framework/tensors.js';
import type { WebGpuAdapter } from '../framework/webgpu.js';

export interface BenchmarkContext {
  /** The backend every measurement runs on. */
  backend: BackendName;
  /** The GPU, where there is one: the webgpu backend's hardware adapter (or tensorflow-gpu's CUDA device). */
  gpu?: { name: string; adapter?: WebGpuAdapter; fp32PeakTflops?: number };
}

export interface BenchmarkResult {
  /** Printed as is. */
  report: string;
  /** Kept in bench/results.json under the benchmark's name, with the run's date and machine. */
  data: object;
}

export interface Benchmark {
  name: string;
  description: string;
  /** Measures the CPU backends' kernels only: left out of a default run on a GPU. */
  cpuOnly?: boolean;
  /** Throws if something the benchmark needs outside xp is missing; checked before any benchmark runs. */
  requirements?(): Promise<void>;
  run(context: BenchmarkContext): Promise<BenchmarkResult>;
}

/** A timed function; a promise is awaited inside the timing (a step on worker threads, say). */
export type Timed = () => unknown;

/**
 * Runs every function of `fns` once a round, `warmup` untimed rounds then `reps` timed ones,
 * and keeps each one's fastest time in ms: on a shared machine, the least disturbed. Rounds
 * interleave the functions so a busy spell does not fall on one of them alone.
 */
export async function fastestOfRounds<K extends string>(fns: Record<K, Timed>, rounds: Rounds): Promise<Record<K, number>> {
  return summarize(await timesOfRounds(fns, rounds), (ts) => Math.min(...ts));
}

/** Like `fastestOfRounds`, but keeps each function's median time in ms. */
export async function medianOfRounds<K extends string>(fns: Record<K, Timed>, rounds: Rounds): Promise<Record<K, number>> {
  return summarize(await timesOfRounds(fns, rounds), median);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Rounds {
  warmup: number;
  reps: number;
}

async function timesOfRounds<K extends string>(fns: Record<K, Timed>, { warmup, reps }: Rounds): Promise<Record<K, number[]>> {
  const names = Object.keys(fns) as K[];
  const times = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < warmup + reps; round++) {
    for (const name of names) {
      const start = performance.now();
      await fns[name]();
      if (round >= warmup) times[name].push(performance.now() - start);
    }
  }
  return times;
}

function summarize<K extends string>(times: Record<K, number[]>, statistic: (ts: number[]) => number): Record<K, number> {
  return Object.fromEntries(Object.entries<number[]>(times).map(([name, ts]) => [name, statistic(ts)])) as Record<K, number>;
}

/**
 * Waits for the work queued before it: reads one value computed from `t` (a tensor on the
 * device). A GPU runs its queue in order, so the read completes after everything issued before
 * it; without this a timed function would measure only how fast JavaScript issues commands.
 * On wasm and cpu, whose work is done when the call returns, it costs a microsecond.
 */
export async function settle(t: tf.Tensor): Promise<void> {
  await readValues(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
}

export function gflops(flop: number, ms: number): number {
  return flop / ms / 1e6;
}

/** Columns padded to their widest cell; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, col) => Math.max(...cells.map((row) => row[col].length)));
  const line = (row: string[], r: number) =>
    row.map((cell, col) => (r > 0 && typeof rows[r - 1][col] === 'number' ? cell.padStart(widths[col]) : cell.padEnd(widths[col]))).join('  ');
  const [head, ...body] = cells.map(line);
  return [head, widths.map((w) => '-'.repeat(w)).join('  '), ...body].join('\n');
}
