/**
 * Per-kernel speed on the UNets' real shapes (`npm run bench -- native`): every convolution
 * (forward, dx, dW) and matrix product that one training pass of the quick-start and the
 * paper's model runs (traced by bench/kernel-shapes.ts), on xp's wasm kernels and on the
 * native (oneDNN) kernels with one and two threads; with --vs-pytorch, PyTorch's time for the
 * same calls beside them (bench/pytorch_kernels.py). Per kernel family the rate is the pass's
 * FLOPs of that family over its summed time, so it weighs each shape as training does.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { XpError } from '../framework/errors.js';
import { nativeKernelsUnavailable, registerNativeKernels, setNativeThreads, unregisterNativeKernels, NATIVE_INSTALL } from '../framework/kernels/native/onednn-kernels.js';
import { fastestOfRounds, gflops, table, type Benchmark } from './harness.js';
import { traceTrainingPass, TRACED_KERNELS, type KernelCall } from './kernel-shapes.js';

/** Each model at the batch one of its passes takes (the paper's UNet trains in slices of 4 on the wasm heap). */
const MODELS = [
  { experiment: 'experiments/quickstart.yaml', batch: 16 },
  { experiment: 'experiments/mnist-ema.yaml', batch: 4 },
];
const THREADS = [1, 2];
const ROUNDS = { warmup: 1, reps: 5 };
/** Calls listed one by one: those holding at least this share of their pass's FLOPs. */
const LISTED_SHARE = 0.02;
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pytorch_kernels.py');

/** Column name -> ms of each call (in the model's call order). */
type Timings = Record<string, number[]>;

interface ModelKernels {
  experiment: string;
  batch: number;
  calls: KernelCall[];
  ms: Timings;
}

export interface KernelRates {
  report: string;
  data: { models: ModelKernels[]; columns: string[]; rounds: typeof ROUNDS; pytorch?: { torch: string; blas: string[] } };
}

/**
 * Times every traced call of both models on xp's wasm kernels and, where built, the native
 * ones; PyTorch's too where `python` is given.
 */
export async function measureKernelRates(python?: string): Promise<KernelRates> {
  if (tf.getBackend() !== 'wasm') throw new XpError(`the native kernels run under the wasm backend, not '${tf.getBackend()}'`);
  const models: ModelKernels[] = [];
  let pytorch: { torch: string; blas: string[] } | undefined;
  for (const { experiment, batch } of MODELS) {
    process.stderr.write(`kernels of ${experiment} at batch ${batch}\n`);
    const calls = await traceTrainingPass(experiment, batch);
    const ms = await timeOnXp(calls);
    if (python) {
      for (const threads of THREADS) {
        const run = await runPytorch(python, calls, threads);
        ms[`PyTorch ${threads}T`] = run.ms;
        pytorch = { torch: run.torch, blas: run.blas };
      }
    }
    models.push({ experiment, batch, calls, ms });
  }
  const columns = Object.keys(models[0].ms);
  const report = models.map((m) => reportModel(m, columns)).join('\n\n');
  return { report, data: { models, columns, rounds: ROUNDS, pytorch } };
}

export const nativeKernels: Benchmark = {
  name: 'native',
  description: 'convolutions and matrix products of one training pass of each UNet: xp wasm vs native (oneDNN) kernels',
  async requirements() {
    const unavailable = nativeKernelsUnavailable();
    if (unavailable) throw new XpError(`native kernels: ${unavailable}`);
  },
  async run() {
    const { report, data } = await measureKernelRates();
    return { report: `${report}\n\nGFLOP/s, fastest of ${ROUNDS.reps} rounds after ${ROUNDS.warmup} warm-up. To build the native kernels: ${NATIVE_INSTALL}`, data };
  },
};

/** ms of each call on xp's wasm kernels, then on the native ones at each thread count (kernels interleaved by round). */
async function timeOnXp(calls: KernelCall[]): Promise<Timings> {
  const inputs = calls.map((call) => Object.fromEntries(Object.entries(call.inputs).map(([name, shape]) => [name, tf.randomNormal(shape)])));
  const ms: Timings = {};
  const column = async (name: string) => {
    const fns = Object.fromEntries(calls.map((call, i) => [String(i), () => tf.dispose(tf.engine().runKernel(call.kernel, inputs[i], call.attrs as tf.NamedAttrMap))]));
    const fastest = await fastestOfRounds(fns, ROUNDS);
    ms[name] = calls.map((_, i) => fastest[String(i)]);
  };
  try {
    unregisterNativeKernels();
    await column('xp wasm');
    const native = registerNativeKernels();
    for (const threads of native ? THREADS : []) {
      setNativeThreads(threads);
      await column(`native ${threads}T`);
    }
  } finally {
    registerNativeKernels();
    setNativeThreads(THREADS.at(-1)!);
    tf.dispose(inputs.flatMap((named) => Object.values(named)));
  }
  return ms;
}

interface PytorchKernels {
  torch: string;
  blas: string[];
  ms: number[];
}

function runPytorch(python: string, calls: KernelCall[], threads: number): Promise<PytorchKernels> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as PytorchKernels);
      else reject(new XpError(`bench/pytorch_kernels.py --threads ${threads} exited with ${code} (its error is above)`));
    });
    child.stdin.end(JSON.stringify({ calls, threads, rounds: ROUNDS.reps }));
  });
}

function shapeText(call: KernelCall): string {
  const dims = Object.entries(call.inputs).map(([name, s]) => `${name} ${s.join('x')}`).join(', ');
  const transposes = call.kernel === tf.BatchMatMul ? ` ${call.attrs.transposeA ? 'T' : 'N'}${call.attrs.transposeB ? 'T' : 'N'}` : '';
  return `${dims}${transposes}`;
}

function reportModel(m: ModelKernels, columns: string[]): string {
  const passFlop = m.calls.reduce((sum, c) => sum + c.flop * c.count, 0);
  const rate = (indices: number[], column: string) => {
    const flop = indices.reduce((sum, i) => sum + m.calls[i].flop * m.calls[i].count, 0);
    const ms = indices.reduce((sum, i) => sum + m.ms[column][i] * m.calls[i].count, 0);
    return Number(gflops(flop, ms).toFixed(1));
  };
  const all = m.calls.map((_, i) => i);
  // Each side at its faster thread count, as bench/vs-pytorch.ts compares models.
  const native = columns.filter((c) => c.startsWith('native'));
  const pytorch = columns.filter((c) => c.startsWith('PyTorch'));
  const ratio = native.length && pytorch.length
    ? (indices: number[]) => [Number((Math.max(...native.map((c) => rate(indices, c))) / Math.max(...pytorch.map((c) => rate(indices, c)))).toFixed(2))]
    : () => [];
  const ratioHeader = ratio([0]).length ? ['native / PyTorch'] : [];
  const families = TRACED_KERNELS.map((kernel) => {
    const indices = all.filter((i) => m.calls[i].kernel === kernel);
    const share = indices.reduce((sum, i) => sum + m.calls[i].flop * m.calls[i].count, 0) / passFlop;
    return [kernel, indices.length, `${(share * 100).toFixed(1)}%`, ...columns.map((c) => rate(indices, c)), ...ratio(indices)];
  });
  const passMs = columns.map((c) => all.reduce((sum, i) => sum + m.ms[c][i] * m.calls[i].count, 0));
  const listed = all
    .filter((i) => m.calls[i].flop * m.calls[i].count >= LISTED_SHARE * passFlop)
    .sort((i, j) => m.calls[j].flop * m.calls[j].count - m.calls[i].flop * m.calls[i].count)
    .map((i) => [m.calls[i].kernel, shapeText(m.calls[i]), m.calls[i].count, ...columns.map((c) => rate([i], c)), ...ratio([i])]);
  return [
    `${m.experiment}, one training pass of batch ${m.batch}: ${(passFlop / 1e9).toFixed(2)} GFLOP in these kernels; their time: `
      + columns.map((c, k) => `${c} ${passMs[k].toFixed(0)} ms`).join(', '),
    '',
    table(['kernel family', 'shapes', 'FLOP share', ...columns.map((c) => `${c} GFLOP/s`), ...ratioHeader],
      [...families, ['all', all.length, '100%', ...columns.map((c) => rate(all, c)), ...ratio(all)]]),
    '',
    `Each call holding >= ${LISTED_SHARE * 100}% of the pass (GFLOP/s):`,
    table(['kernel', 'shapes', 'calls', ...columns, ...ratioHeader], listed),
  ].join('\n');
}
