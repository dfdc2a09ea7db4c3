/**
 * Which threads make the faster training step where the native kernels run (`npm run bench --
 * threads`): oneDNN's own threads inside each kernel, xp's worker threads (`trainer.threads`,
 * each with a share of the batch and its own engine), or both. Every arrangement trains the
 * same model on the same batch, one step each in turn per round, so a busy spell on a shared
 * machine falls on all of them alike; medians and fastest steps are reported.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { nativeKernelStatus, setNativeThreads } from '../framework/kernels/native/onednn-kernels.js';
import { startGradients } from '../framework/training/parallel-gradients.js';
import { examplesPerPass } from '../framework/training/slices.js';
import { Rng } from '../framework/rng.js';
import { XpError } from '../framework/errors.js';
import { build } from './models.js';
import { table, type Benchmark } from './harness.js';

const CASES = [
  { experiment: 'experiments/quickstart.yaml', batch: 16, rounds: 12 },
  { experiment: 'experiments/quickstart.yaml', batch: 64, rounds: 8 },
  { experiment: 'experiments/mnist-standard.yaml', batch: 8, rounds: 3 },
];

/** xp's threads (this one and workers) and oneDNN's threads on this thread (workers keep one each). */
interface Arrangement {
  name: string;
  xpThreads: number;
  nativeThreads: number;
}

function arrangements(cores: number): Arrangement[] {
  return [
    { name: 'xp 1, oneDNN 1', xpThreads: 1, nativeThreads: 1 },
    { name: `xp 1, oneDNN ${cores}`, xpThreads: 1, nativeThreads: cores },
    { name: `xp ${cores} (workers), oneDNN 1 each`, xpThreads: cores, nativeThreads: 1 },
    { name: `xp ${cores}, oneDNN ${cores} here + 1 per worker`, xpThreads: cores, nativeThreads: cores },
  ];
}

interface CaseResult {
  experiment: string;
  batch: number;
  rounds: number;
  /** Step times in ms by arrangement, in round order. */
  stepMs: Record<string, number[]>;
}

async function measureCase(c: (typeof CASES)[number], cores: number): Promise<CaseResult> {
  const built = await build(c.experiment);
  const rng = new Rng(0);
  const x0 = tf.randomNormal([c.batch, 28, 28, 1]) as tf.Tensor4D;
  const batch = built.objective.prepare({ x: x0 }, rng);
  const perPass = examplesPerPass(built.model, 'auto');
  const computers = new Map<number, Awaited<ReturnType<typeof startGradients>>>();
  const setup = { modules: built.modules, experiment: built.experiment, examplesPerPass: perPass };
  for (const threads of new Set([1, cores])) computers.set(threads, await startGradients(built.model, built.objective, setup, threads));
  const stepMs: Record<string, number[]> = {};
  try {
    for (let round = 0; round <= c.rounds; round++) {
      for (const a of arrangements(cores)) {
        setNativeThreads(a.nativeThreads);
        const start = performance.now();
        const { grads } = await computers.get(a.xpThreads)!.compute(batch);
        tf.dispose(Object.values(grads));
        // Round 0 warms up (oneDNN builds its primitives, workers compile).
        if (round > 0) (stepMs[a.name] ??= []).push(performance.now() - start);
      }
      process.stderr.write(`${c.experiment} batch ${c.batch}: round ${round}/${c.rounds}\n`);
    }
  } finally {
    setNativeThreads(cores);
    for (const computer of computers.values()) computer.dispose();
    tf.dispose([x0, ...Object.values(batch)]);
    built.objective.dispose?.();
    built.model.dispose();
  }
  return { experiment: c.experiment, batch: c.batch, rounds: c.rounds, stepMs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const threads: Benchmark = {
  name: 'threads',
  description: "a training step's gradients with oneDNN's threads, xp's worker threads, or both (native kernels)",
  async run() {
    if (!nativeKernelStatus().active) throw new XpError(`the threads benchmark compares native kernel arrangements: ${nativeKernelStatus().detail}`);
    const cores = os.availableParallelism();
    const results: CaseResult[] = [];
    for (const c of CASES) results.push(await measureCase(c, cores));
    const rows = results.flatMap((r) => Object.entries(r.stepMs).map(([name, ms]) => [
      r.experiment.replace('experiments/', ''), r.batch, name,
      Number(((r.batch * 1000) / median(ms)).toFixed(1)), Number(((r.batch * 1000) / Math.min(...ms)).toFixed(1)),
    ]));
    const report = table(['experiment', 'batch', 'threads', 'img/s (median step)', 'img/s (fastest step)'], rows);
    return { report: `${report}\n\nGradients only (no optimizer), the same batch every step, arrangements interleaved step by step.`, data: { cores, results } };
  },
};
