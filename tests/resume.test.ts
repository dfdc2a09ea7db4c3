import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { backendReady } from './setup.js';
import { resolveExperiment } from '../framework/config/resolve.js';
import { assemble } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { CheckpointSink, Denoiser, Recorder, Trainer } from '../framework/interfaces.js';
import {
  NonFiniteWeightsError, listCheckpoints, pruneCheckpoints, readCheckpoint, resolveCheckpoint, writeCheckpoint,
} from '../framework/run/checkpoint.js';
import { SummaryWriter } from '../framework/records/tensorboard/writer.js';
import { eventFiles, fileScalars } from '../framework/records/tensorboard/reader.js';
import { trimEventsAfter } from '../framework/records/tensorboard/trim.js';
import { registerBuiltins } from '../components/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-resume-'));

class LossRecorder implements Recorder {
  readonly losses: Record<string, number[]> = {};
  /** The last step a training loss was recorded at. */
  step = 0;
  scalar(tag: string, value: number, step: number): void {
    (this.losses[tag] ??= []).push(value);
    if (tag === 'Training/MSE') this.step = step;
  }
  image(): void {}
  text(): void {}
}

const overrides = [
  'dataset.limit=48',
  'dataset.batch_size=16',
  'dataset.shuffle=true',
  'dataset.normalize=minus-one-one',
  'model.time_dim=16',
  'model.stages={start: [{type: DoubleConv, out: 4}], down1: [{type: Down, out: 8}, {type: SelfAttention, heads: 2}], up1: [{type: Up, out: 4}]}',
  'schedule.steps=50',
  'objective.timesteps=per-example',
  'trainer.max_steps=7',
  'trainer.threads=1',
  '~callbacks.samples',
  '+callbacks.ema.type=ema',
  'callbacks.ema.warmup_steps=2',
];

async function fit(folder: string, opts: { stopAfter?: number; resume?: boolean }): Promise<LossRecorder> {
  await backendReady;
  const config = await resolveExperiment('experiments/mnist-standard.yaml', { registry: registerBuiltins(), overrides });
  const container = assemble(config);
  const record = new LossRecorder();
  const checkpoints: CheckpointSink = { save: (step, data) => writeCheckpoint(folder, step, data) };
  const trainer = container.get(TOKENS.Trainer) as Trainer;
  const result = await trainer.fit({
    record,
    stopRequested: () => opts.stopAfter !== undefined && record.step >= opts.stopAfter,
    quiet: true,
    checkpoints,
    resumeFrom: opts.resume ? readCheckpoint(resolveCheckpoint(folder)) : undefined,
  });
  assert.is(result.status, opts.stopAfter ? 'interrupted' : 'completed');
  (container.get(TOKENS.Model) as Denoiser).dispose();
  return record;
}

test('a run stopped at step 3 and resumed gives exactly the losses of an uninterrupted run', async () => {
  const whole = await fit(path.join(dir, 'whole'), {});
  const stopped = path.join(dir, 'stopped');
  const first = await fit(stopped, { stopAfter: 3 });
  assert.equal(listCheckpoints(stopped).map((p) => path.basename(p)), ['step-00000003']);
  const second = await fit(stopped, { resume: true });
  for (const tag of ['Training/MSE', 'Training/EMA_MSE']) {
    assert.is(whole.losses[tag].length, 7);
    assert.equal([...first.losses[tag], ...second.losses[tag]], whole.losses[tag], tag);
  }
});

test('checkpoints round-trip tensors and state; pruning keeps the newest and the protected', async () => {
  await backendReady;
  const folder = path.join(dir, 'prune');
  const tensors = new Map<string, tf.Tensor>([['model/a', tf.tensor2d([[1, 2], [3, 4]])], ['optimizer/0', tf.scalar(5, 'int32')]]);
  for (const step of [1, 2, 3, 4]) await writeCheckpoint(folder, step, { state: { epoch: 0, note: 'x' }, tensors });
  const loaded = readCheckpoint(resolveCheckpoint(folder));
  assert.equal(loaded.state, { step: 4, epoch: 0, note: 'x' });
  assert.equal(Array.from(loaded.tensors.get('model/a')!.dataSync()), [1, 2, 3, 4]);
  assert.is(loaded.tensors.get('optimizer/0')!.dtype, 'int32');
  pruneCheckpoints(folder, 2, new Set([path.join(folder, 'step-00000001')]));
  assert.equal(listCheckpoints(folder).map((p) => path.basename(p)), ['step-00000001', 'step-00000003', 'step-00000004']);
  assert.not.ok(fs.readdirSync(folder).some((name) => name.startsWith('.tmp')), 'no temporary folder is left');
  tf.dispose([...tensors.values(), ...loaded.tensors.values()]);
});

test('weights holding NaN or infinity are never checkpointed; the last good checkpoint stays', async () => {
  await backendReady;
  const folder = path.join(dir, 'poisoned');
  const good = new Map<string, tf.Tensor>([['model/w', tf.tensor1d([1, 2])], ['optimizer/0', tf.scalar(1, 'int32')]]);
  await writeCheckpoint(folder, 1, { state: {}, tensors: good });
  for (const bad of [NaN, Infinity, -Infinity]) {
    const tensors = new Map<string, tf.Tensor>([['model/w', tf.tensor1d([1, 2])], ['callbacks.ema/w', tf.tensor1d([0, bad])]]);
    try {
      await writeCheckpoint(folder, 2, { state: {}, tensors });
      assert.unreachable(`${bad} must be refused`);
    } catch (err) {
      assert.instance(err, NonFiniteWeightsError);
      assert.match((err as Error).message, "at step 2 'callbacks.ema/w' holds NaN or infinite values; the checkpoint was not written (the last good one, step-00000001, is kept)");
    }
    tf.dispose([...tensors.values()]);
  }
  assert.equal(fs.readdirSync(folder), ['step-00000001'], 'no step-2 and no temporary folder');
  tf.dispose([...good.values()]);
});

test('a damaged checkpoint is an error naming its file', async () => {
  await backendReady;
  const folder = path.join(dir, 'damaged');
  const tensors = new Map<string, tf.Tensor>([['model/w', tf.zeros([4, 4])]]);
  const checkpoint = await writeCheckpoint(folder, 1, { state: {}, tensors });
  tf.dispose([...tensors.values()]);
  const weights = path.join(checkpoint, 'weights.bin');
  fs.truncateSync(weights, 10);
  assert.throws(() => readCheckpoint(checkpoint), (err: Error) => err.message === `${weights}: 10 bytes where weights.json describes 64 (truncated)`);
  const manifest = path.join(checkpoint, 'weights.json');
  fs.writeFileSync(manifest, JSON.stringify([{ paths: ['weights.bin'], weights: [{ name: 'model/w', dtype: 'float32', shape: [4, 'x'] }] }]));
  assert.throws(() => readCheckpoint(checkpoint), /weights\.json: weights\.0 \(model\/w\): the shape \[4,"x"\] is not a list of sizes/);
  fs.writeFileSync(path.join(checkpoint, 'state.json'), '{"step": ');
  assert.throws(() => readCheckpoint(checkpoint), /state\.json: not valid JSON/);
});

test('event files are cut back to a checkpoint: later records and a partial last record go', () => {
  const logdir = path.join(dir, 'trim');
  const writer = new SummaryWriter(logdir);
  for (let step = 1; step <= 10; step++) writer.scalar('Training/MSE', step / 10, step);
  writer.close();
  const [file] = eventFiles(logdir);
  fs.appendFileSync(file, Buffer.from([42, 0, 0, 0, 0, 0, 0, 0, 1, 2])); // a record cut short by a kill
  assert.is(trimEventsAfter(logdir, 5), 5);
  assert.equal([...fileScalars(file)].map((p) => p.step), [1, 2, 3, 4, 5]);
  assert.is(trimEventsAfter(logdir, 5), 0, 'nothing more to drop: the file is left alone');
  trimEventsAfter(logdir, -1);
  assert.equal(eventFiles(logdir), [], 'a run starting over drops every file');
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
test.run();
