/**
 * xp beside PyTorch (`npm run bench -- --vs-pytorch`): the training throughput of the paper's
 * and the quick-start UNet, xp's as bench/models.ts measures it, PyTorch's by
 * bench/pytorch_unet.py, which builds the same models layer for layer and trains the same
 * objective, each on one thread and on two, in alternated rounds; then both sides' kernels on
 * the calls one training pass makes. The PyTorch side needs the system Python's torch (Debian:
 * python3-torch).
 */
import { execFile, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { XpError } from '../framework/errors.js';
import { median, table, type Benchmark } from './harness.js';
import { CASES, measureTrainingOf, type ModelCase, type Training } from './models.js';
import { measureKernelRates } from './native-kernels.js';
import { nativeKernelStatus, setNativeThreads } from '../framework/kernels/native/onednn-kernels.js';
import { useTrainingThreads } from '../framework/training/runner.js';

/** Debian's python3-torch installs for the system Python, not for a pyenv or venv one on PATH. */
const PYTHON = process.env.XP_BENCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pytorch_unet.py');
/** OpenBLAS too: without it Debian's torch runs matrix products on the reference BLAS, several times slower. */
const INSTALL = 'apt-get install -y python3-torch libopenblas0-pthread';
/**
 * One core and two, the whole machine (as the issue's anchor was measured), on both sides:
 * PyTorch's second thread is an OpenMP thread inside each op; xp's threads are what
 * `trainer.threads: auto` trains with on that many cores (worker threads for a small model,
 * oneDNN's own threads for a large one).
 */
const THREADS = [1, 2];
/**
 * Rounds of xp then PyTorch, each side on one thread and on two, alternated: this machine's
 * speed moves by a third within minutes, and a comparison of one run each mostly measured
 * when each side happened to run. Each cell is the median over rounds.
 */
const ROUNDS = 3;

/** Each experiment's model in bench/pytorch_unet.py and issue 15's target for xp / PyTorch. */
const COUNTERPARTS: Record<string, { model: string; target: number }> = {
  'experiments/quickstart.yaml': { model: 'quickstart', target: 1.5 },
  'experiments/mnist-standard.yaml': { model: 'paper', target: 0.8 },
};

/** What bench/pytorch_unet.py prints. */
interface PytorchRun {
  torch: string;
  model: string;
  parameters: number;
  threads: number;
  blas: string[];
  warmup: number;
  steps: number;
  results: { batch: number; stepSeconds: number[]; imagesPerSecond: number }[];
}

interface Row {
  experiment: string;
  batch: number;
  /** Images/s by thread count. */
  xp: Record<number, number>;
  pytorch: Record<number, number>;
  /** Each side at its faster thread count: the fastest xp over the fastest PyTorch ran here. */
  ratio: number;
  target: number;
}

export const vsPytorch: Benchmark = {
  name: 'vs-pytorch',
  description: `training img/s of the paper and quick-start UNets, xp beside PyTorch (${PYTHON})`,
  async requirements() {
    try {
      await promisify(execFile)(PYTHON, ['-c', 'import torch']);
    } catch {
      throw new XpError(`--vs-pytorch runs PyTorch with ${PYTHON}, which cannot import torch; on Debian: ${INSTALL} (or set XP_BENCH_PYTHON to a Python that has torch)`);
    }
  },
  async run(context) {
    const rows: Row[] = [];
    const runs: PytorchRun[] = [];
    const rounds: Record<string, Round[]> = {};
    for (const c of CASES) {
      const compared = await compare(c);
      rows.push(...compared.rows);
      runs.push(...compared.runs);
      rounds[c.experiment] = compared.rounds;
    }
    const kernels = await measureKernelRates(PYTHON);
    const { torch, blas } = runs[0];
    // The ratio depends on the CPU's vector units: PyTorch's oneDNN uses AVX2 or AVX-512, wasm 128-bit SIMD.
    const cpu = os.cpus()[0]?.model ?? 'unknown';
    const notes = [
      `CPU: ${cpu}, ${os.cpus().length} cores.`,
      `xp: ${context.backend} backend, ${nativeKernelStatus().active ? `native kernels (${nativeKernelStatus().detail})` : 'wasm kernels'}; 2T: the threads \`trainer.threads: auto\` picks on two cores; median of timed steps after warm-ups, as \`npm run bench -- models\` (${CASES.map((c) => `${c.experiment.replace('experiments/', '')}: ${c.reps} after ${c.warmup ?? 1}`).join(', ')}).`,
      `PyTorch ${torch}, BLAS ${blas.join(', ') || 'unknown'}: median of as many steps after as many warm-ups as xp's.`,
      `Each cell: the median of ${ROUNDS} rounds, each round xp then PyTorch (bench/results.json keeps every round's).`,
      'xp / PyTorch divides the faster xp column by the faster PyTorch column. Parameter counts checked equal on both sides.',
    ];
    const kernelNotes = [
      `Per kernel: GFLOP/s on the calls one training pass makes (bench/kernel-shapes.ts traces them), fastest of ${kernels.data.rounds.reps} rounds;`,
      'PyTorch runs the same calls NCHW through aten.convolution(_backward) (oneDNN) and torch.matmul (system BLAS).',
    ];
    return {
      report: [report(rows), '', ...notes, '', kernels.report, '', ...kernelNotes].join('\n'),
      data: { cpu, rows, rounds, pytorch: runs, kernels: kernels.data },
    };
  },
};

/** One round of a case: images/s by batch, keyed by thread count, on each side. */
interface Round {
  xp: Record<number, Record<number, number>>;
  pytorch: Record<number, Record<number, number>>;
}

/**
 * xp's and PyTorch's training throughput for one case over ROUNDS alternated rounds; throws if
 * the two models differ in size.
 */
async function compare(c: ModelCase): Promise<{ rows: Row[]; runs: PytorchRun[]; rounds: Round[] }> {
  const { model, target } = COUNTERPARTS[c.experiment];
  const rounds: Round[] = [];
  const runs: PytorchRun[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const xp: Round['xp'] = {};
    const pytorch: Round['pytorch'] = {};
    let parameters = 0;
    for (const cores of THREADS) {
      const training = await measureTrainingOf(c, (m, batchSize) => useTrainingThreads(m, 'auto', { cores, batchSize }));
      parameters = training.parameters;
      xp[cores] = Object.fromEntries(c.trainBatches.map((b) => [b, training.imagesPerSecond[`batch ${b}`]]));
    }
    setNativeThreads(THREADS.at(-1)!);
    for (const threads of THREADS) {
      const run = await runPytorch(model, c, threads);
      if (run.parameters !== parameters) {
        throw new XpError(`${c.experiment}: xp's UNet has ${parameters} parameters, bench/pytorch_unet.py's ${run.parameters}; update the script's '${model}' model`);
      }
      runs.push(run);
      pytorch[threads] = Object.fromEntries(run.results.map((r) => [r.batch, r.imagesPerSecond]));
    }
    rounds.push({ xp, pytorch });
  }
  const rows = c.trainBatches.map((batch) => {
    const medianOf = (side: 'xp' | 'pytorch') =>
      Object.fromEntries(THREADS.map((threads) => [threads, median(rounds.map((r) => r[side][threads][batch]))]));
    const xpRates = medianOf('xp');
    const pytorch = medianOf('pytorch');
    const ratio = Math.max(...Object.values(xpRates)) / Math.max(...Object.values(pytorch));
    return { experiment: c.experiment, batch, xp: xpRates, pytorch, ratio, target };
  });
  return { rows, runs, rounds };
}

/** Runs bench/pytorch_unet.py for the case's batches, as many steps as xp's, its progress on our stderr; parses the JSON it prints. */
function runPytorch(model: string, c: ModelCase, threads: number): Promise<PytorchRun> {
  const args = [SCRIPT, '--model', model, '--batch', ...c.trainBatches.map(String), '--threads', String(threads),
    '--warmup', String(c.warmup ?? 1), '--steps', String(c.reps)];
  return new Promise((resolve, reject) => {
    // OpenMP's default spin-waiting stalls PyTorch's second thread on a shared machine (docs/performance.md).
    const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as PytorchRun);
      else reject(new XpError(`bench/pytorch_unet.py --model ${model} --threads ${threads} exited with ${code} (its error is above)`));
    });
  });
}

function report(rows: Row[]): string {
  const header = ['experiment', 'batch', ...THREADS.map((n) => `xp ${n}T img/s`), ...THREADS.map((n) => `PyTorch ${n}T img/s`), 'xp / PyTorch', 'target', 'met'];
  const body = rows.map((r) => [
    r.experiment.replace('experiments/', ''),
    r.batch,
    ...THREADS.map((n) => Number(r.xp[n].toPrecision(3))),
    ...THREADS.map((n) => Number(r.pytorch[n].toPrecision(3))),
    Number(r.ratio.toPrecision(2)),
    `>= ${r.target}`,
    r.ratio >= r.target ? 'yes' : 'no',
  ]);
  return table(header, body);
}
