/**
 * Every read of tensor values in training, sampling, evaluation and checkpoints is asynchronous:
 * the webgpu backend has no synchronous read in Node (dataSync fails there), so one synchronous
 * read left anywhere on those paths stops webgpu runs. Here, on the cpu backend, dataSync,
 * arraySync and bufferSync throw while a short run trains (with the EMA's loss), renders a sample
 * grid, checkpoints and resumes, and while xp's sampling and classification run; the error names the read's caller.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendReady } from './setup.js';
import { requestedBackend, selectBackend } from '../framework/backend.js';
import { resolveExperiment } from '../framework/config/resolve.js';
import { assemble } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { Classifier, Denoiser, Recorder, Sampler, Shape3, Trainer } from '../framework/interfaces.js';
import { readCheckpoint, resolveCheckpoint, writeCheckpoint } from '../framework/run/checkpoint.js';
import { sampleInBatches } from '../framework/eval/sampling.js';
import { classify } from '../framework/eval/classify.js';
import { Rng } from '../framework/rng.js';
import { registerBuiltins } from '../components/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-sync-reads-'));
const SYNC_READS = ['dataSync', 'arraySync', 'bufferSync'] as const;

/** Runs `fn` with the synchronous reads of every tensor made to throw, then puts them back. */
async function withoutSyncReads<T>(fn: () => Promise<T>): Promise<T> {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const saved = SYNC_READS.map((name) => proto[name]);
  for (const name of SYNC_READS) {
    proto[name] = function refuse(): never {
      throw new Error(`a synchronous read (${name}) on a path that must read asynchronously: see the stack`);
    };
  }
  try {
    return await fn();
  } finally {
    SYNC_READS.forEach((name, i) => (proto[name] = saved[i]));
  }
}

const images: string[] = [];
const record: Recorder = { scalar() {}, image: (tag) => void images.push(tag), text() {} };

async function fit(maxSteps: number, resume: boolean): Promise<void> {
  const config = await resolveExperiment('experiments/quickstart.yaml', {
    registry: registerBuiltins(),
    overrides: [
      'dataset.batch_size=2',
      'trainer.threads=1',
      `trainer.max_steps=${maxSteps}`,
      'sampler.steps=2',
      'callbacks.samples.n=2',
      'callbacks.samples.every_steps=1',
      '~callbacks.ema_samples',
      '~callbacks.final_samples',
      'callbacks.checkpoints.every_steps=1',
      'callbacks.ema.loss_tag=Training/EMA_MSE',
    ],
  });
  const container = assemble(config);
  try {
    const trainer = container.get(TOKENS.Trainer) as Trainer;
    await trainer.fit({
      record,
      stopRequested: () => false,
      quiet: true,
      checkpoints: { save: (step, data) => writeCheckpoint(dir, step, data) },
      resumeFrom: resume ? readCheckpoint(resolveCheckpoint(dir)) : undefined,
    });
  } finally {
    (container.get(TOKENS.Model) as Denoiser).dispose();
  }
}

test('training, sample grids, checkpoints and a resume read no tensor synchronously (cpu backend)', async () => {
  await backendReady;
  await selectBackend('cpu');
  try {
    await withoutSyncReads(async () => {
      await fit(1, false);
      await fit(2, true);
    });
    assert.equal(images, ['Training/ImagesOverTime', 'Training/ImagesOverTime']);
  } finally {
    await selectBackend(requestedBackend());
  }
});

test('sampling and classification read no tensor synchronously (cpu backend)', async () => {
  await backendReady;
  await selectBackend('cpu');
  try {
    const quickstart = assemble(await resolveExperiment('experiments/quickstart.yaml', { registry: registerBuiltins(), overrides: ['sampler.steps=2'] }));
    const classifier = assemble(await resolveExperiment('experiments/mnist-classifier.yaml', { registry: registerBuiltins() })).get(TOKENS.Model) as Classifier;
    const model = quickstart.get(TOKENS.Model) as Denoiser;
    const shape = quickstart.get(TOKENS.ImageShape) as Shape3;
    const sampler = quickstart.get(TOKENS.Sampler) as Sampler;
    try {
      const bytes = await withoutSyncReads(() => sampleInBatches(model, sampler, shape, 3, 2, new Rng(0)));
      assert.is(bytes.length, 3 * 28 * 28);
      const classified = await withoutSyncReads(() => classify(classifier, bytes, 28, 28));
      assert.is(classified.probabilities.length, 3 * classifier.classes);
    } finally {
      model.dispose();
      classifier.dispose();
    }
  } finally {
    await selectBackend(requestedBackend());
  }
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
test.run();
