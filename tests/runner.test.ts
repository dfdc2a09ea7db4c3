/**
 * The one run loop keeps the runs it replaced: the old quick start's first 20 losses, recorded on
 * wasm from the two trainer components before the redesign (commit 922fa8c), on one thread and
 * on two, come out the same to the last bit. They were recorded on wasm's own kernels, so the
 * native kernels (which round differently) are off here, in worker threads too. The quick start's
 * recipe has changed since (docs/quickstart-recipe.md); OLD_RECIPE sets it back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TOKENS } from '../framework/container/tokens.js';
import type { Recorder, Trainer } from '../framework/interfaces.js';
import { assembleApp, resolveApp } from '../app/experiment.js';
import { backendReady } from './setup.js';
import { registerNativeKernels, unregisterNativeKernels } from '../framework/kernels/native/onednn-kernels.js';
import { autoThreads } from '../framework/training/runner.js';
import type { SummaryRow } from '../framework/interfaces.js';

const BEFORE_THE_REDESIGN: Record<number, number[]> = {
  1: [
    1.2519806623458862, 1.0306711196899414, 0.9309873580932617, 0.8513745069503784,
    0.7856754660606384, 0.6968556642532349, 0.628974974155426, 0.5175096988677979,
    0.5025796890258789, 0.5057001113891602, 0.5119914412498474, 0.4146963655948639,
    0.5195638537406921, 0.43567368388175964, 0.3857252597808838, 0.4243112802505493,
    0.36328038573265076, 0.3350107967853546, 0.37975677847862244, 0.3023613393306732,
  ],
  2: [
    1.2519835233688354, 1.030672311782837, 0.9309875667095184, 0.8513765931129456,
    0.7856759130954742, 0.6968576014041901, 0.6289739012718201, 0.5175106227397919,
    0.5025789588689804, 0.5057005733251572, 0.5119921565055847, 0.41469499468803406,
    0.5195645987987518, 0.4356730133295059, 0.38572341203689575, 0.42431211471557617,
    0.36327967047691345, 0.3350104093551636, 0.3797573745250702, 0.3023616224527359,
  ],
};

/** The quick start before its search: epsilon, uniform weighting, a constant 1e-3, batch 16, widths 8-16-32. */
const OLD_RECIPE = [
  'model.prediction=epsilon', 'objective.min_snr_gamma=0', 'optimizer.lr=1e-3', '~lr_schedule', 'dataset.batch_size=16',
  'model.stages.down2.0.out=32',
];

async function quickStartLosses(threads: number): Promise<number[]> {
  const experiment = await resolveApp('experiments/quickstart.yaml', {
    set: [
      ...OLD_RECIPE, 'trainer.max_steps=20', `trainer.threads=${threads}`,
      '~callbacks.samples', '~callbacks.ema_samples', '~callbacks.final_samples', '~callbacks.checkpoints',
    ],
  });
  const losses: number[] = [];
  const record: Recorder = { scalar: (tag, value) => tag === 'Training/MSE' && losses.push(value), image: () => {}, text: () => {} };
  const container = assembleApp(experiment);
  const result = await container.get<Trainer>(TOKENS.Trainer).fit({ record, stopRequested: () => false, quiet: true });
  assert.is(result.status, 'completed');
  container.get<{ dispose(): void }>(TOKENS.Model).dispose();
  return losses;
}

for (const threads of [1, 2]) {
  test(`the quick start's first 20 losses on ${threads} thread(s) equal those from before the redesign`, async () => {
    await backendReady;
    const native = process.env.XP_NATIVE;
    process.env.XP_NATIVE = 'off';
    unregisterNativeKernels();
    try {
      assert.equal(await quickStartLosses(threads), BEFORE_THE_REDESIGN[threads]);
    } finally {
      if (native === undefined) delete process.env.XP_NATIVE;
      else process.env.XP_NATIVE = native;
      registerNativeKernels();
    }
  });
}

test("threads: auto: workers for a small model on native kernels with 8 examples each, one thread for a large one, one per core on plain wasm", async () => {
  await backendReady;
  const model = (gflops: number) => ({ summary: (): SummaryRow[] => [{ stage: 's', block: 'b', outShape: [1, 1, 1], params: 0, flops: gflops * 1e9 }] });
  // On wasm, CI's backend (tests/setup.ts); native is the argument, not this process's kernels.
  assert.is(autoThreads(model(0.05), { cores: 4, batchSize: 32 }, true), 4, "the quick start's size and batch");
  assert.is(autoThreads(model(0.05), { cores: 4, batchSize: 16 }, true), 2, 'as many workers as have 8 examples each');
  assert.is(autoThreads(model(0.05), { cores: 2, batchSize: 8 }, true), 1, 'batch 8 on one thread');
  assert.is(autoThreads(model(0.05), { cores: 2, batchSize: 1 }, true), 1, 'never fewer than one');
  assert.is(autoThreads(model(10), { cores: 4, batchSize: 64 }, true), 1, "the paper's size");
  assert.is(autoThreads(model(10), { cores: 4, batchSize: 8 }, false), 4, 'wasm kernels use one core per thread');
});

test.run();
