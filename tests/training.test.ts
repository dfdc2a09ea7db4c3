import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { backendReady } from './setup.js';
import { resolveExperiment } from '../framework/config/resolve.js';
import { assemble, instantiate } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { Callback, FitResult, Recorder, Trainer, TrainingContext } from '../framework/interfaces.js';
import { WarmupCosine } from '../components/lr-schedules/warmup-cosine.js';
import { EmaWeights } from '../framework/training/ema-weights.js';
import { ModelWeightSets } from '../framework/training/weight-sets.js';
import { readValues } from '../framework/tensors.js';
import { Container } from 'inversify';
import { registerBuiltins } from '../components/index.js';

/** Records scalars and, at each loss record, the live tensor count. */
class MemoryRecorder implements Recorder {
  readonly scalars = new Map<string, number[]>();
  readonly tensorCounts: number[] = [];
  readonly images: string[] = [];
  readonly pixels = new Map<string, Uint8Array>();
  scalar(tag: string, value: number): void {
    if (tag === 'Training/MSE') this.tensorCounts.push(tf.memory().numTensors);
    this.scalars.set(tag, [...(this.scalars.get(tag) ?? []), value]);
  }
  image(tag: string, pixels: Uint8Array, _w: number, _h: number, step: number): void {
    this.images.push(`${tag}@${step}`);
    this.pixels.set(`${tag}@${step}`, pixels.slice());
  }
  text(): void {}
}

const tinyOverrides = (steps: number, extra: string[] = []) => [
  'dataset.limit=16',
  'dataset.batch_size=16',
  'dataset.normalize=minus-one-one',
  'model.time_dim=16',
  'model.stages={start: [{type: DoubleConv, out: 8}], down1: [{type: Down, out: 16}, {type: SelfAttention, heads: 2}], up1: [{type: Up, out: 8}]}',
  'schedule.steps=100',
  'optimizer.lr=0.003',
  'sampler={type: ddim, steps: 4}',
  `trainer.epochs=${steps}`,
  'trainer.threads=1',
  '~callbacks.samples',
  ...extra,
];

async function fit(overrides: string[]): Promise<{ record: MemoryRecorder; result: FitResult }> {
  await backendReady;
  const config = await resolveExperiment('experiments/mnist-standard.yaml', { registry: registerBuiltins(), overrides });
  const container = assemble(config);
  const trainer = container.get(TOKENS.Trainer) as Trainer;
  const record = new MemoryRecorder();
  const result = await trainer.fit({ record, stopRequested: () => false, quiet: true });
  (container.get(TOKENS.Model) as { dispose(): void }).dispose();
  return { record, result };
}

async function train(overrides: string[]): Promise<MemoryRecorder> {
  const { record, result } = await fit(overrides);
  assert.is(result.status, 'completed');
  return record;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('a small model overfits one fixed batch: the loss falls by half', async () => {
  const record = await train(tinyOverrides(60));
  const losses = record.scalars.get('Training/MSE')!;
  assert.is(losses.length, 60);
  const first = mean(losses.slice(0, 5));
  const last = mean(losses.slice(-10));
  assert.ok(last < first / 2, `loss went from ${first.toFixed(3)} to ${last.toFixed(3)}`);
});

test('the tensor count stays flat across 20 training steps, with EMA and sampling callbacks', async () => {
  const record = await train(
    tinyOverrides(20, [
      '+callbacks.ema.type=ema',
      'callbacks.ema.warmup_steps=5',
      '+callbacks.grid.type=sample-images',
      'callbacks.grid.every_steps=5',
      'callbacks.grid.every_epochs=0',
      'callbacks.grid.n=2',
      'callbacks.grid.weights=ema',
    ]),
  );
  const counts = record.tensorCounts;
  assert.is(counts.length, 20);
  assert.ok(counts.slice(2).every((c) => c === counts[2]), `tensor counts: ${counts.join(' ')}`);
  assert.is(record.scalars.get('Training/EMA_MSE')?.length, 20);
  assert.equal(record.images, ['Training/ImagesOverTime@5', 'Training/ImagesOverTime@10', 'Training/ImagesOverTime@15', 'Training/ImagesOverTime@20']);
});

test('v-prediction with min-SNR weighting overfits a batch on two threads, samples with DPM-Solver++, and leaks nothing', async () => {
  const record = await train(
    tinyOverrides(40, [
      'model.prediction=v',
      'objective.min_snr_gamma=5',
      'objective.timesteps=per-example',
      'trainer.threads=2',
      'sampler={type: dpm-solver++, steps: 4}',
      '+callbacks.grid.type=sample-images',
      'callbacks.grid.every_steps=20',
      'callbacks.grid.every_epochs=0',
      'callbacks.grid.n=2',
    ]),
  );
  const losses = record.scalars.get('Training/MSE')!;
  assert.ok(losses.every(Number.isFinite));
  assert.ok(mean(losses.slice(-10)) < mean(losses.slice(0, 5)), `loss went from ${mean(losses.slice(0, 5))} to ${mean(losses.slice(-10))}`);
  const counts = record.tensorCounts;
  assert.ok(counts.slice(2).every((c) => c === counts[2]), `tensor counts: ${counts.join(' ')}`);
  assert.equal(record.images, ['Training/ImagesOverTime@20', 'Training/ImagesOverTime@40']);
});

test('warmup-cosine: a linear climb to the full rate, then half a cosine down to the final factor at the last step', () => {
  const schedule = new WarmupCosine({ warmup_steps: 4, final_factor: 0.1 });
  assert.equal([0, 1, 2, 3].map((step) => schedule.factor(step, 20)), [0.25, 0.5, 0.75, 1]);
  assert.is(schedule.factor(4, 20), 1);
  assert.ok(Math.abs(schedule.factor(19, 20) - 0.1) < 1e-12);
  const middle = schedule.factor(4 + 7.5, 20);
  assert.ok(Math.abs(middle - 0.55) < 1e-12, `halfway: ${middle}`);
});

test('the run loop sets the scheduled rate before each step and records it; it changes the losses', async () => {
  const scheduled = await train(tinyOverrides(6, ['lr_schedule={type: warmup-cosine, warmup_steps: 2, final_factor: 0}']));
  const rates = scheduled.scalars.get('Training/LearningRate')!;
  assert.equal(rates.slice(0, 2), [0.0015, 0.003]);
  assert.is(rates[5], 0);
  const constant = await train(tinyOverrides(6));
  assert.is(constant.scalars.get('Training/LearningRate'), undefined);
  assert.not.equal(scheduled.scalars.get('Training/MSE'), constant.scalars.get('Training/MSE'));
});

test('a time budget ends the run as completed, with its at-end callbacks, and says so', async () => {
  const { record, result } = await fit(
    tinyOverrides(10000, ['trainer.max_minutes=0.002', '+callbacks.final.type=sample-images', 'callbacks.final.every_epochs=0', 'callbacks.final.at_end=true', 'callbacks.final.n=1']),
  );
  assert.equal([result.status, result.stoppedBy], ['completed', 'max_minutes']);
  assert.ok(result.steps > 0 && result.steps < 10000, `${result.steps} steps`);
  assert.equal(record.images, [`Training/ImagesOverTime@${result.steps}`]);
});

test("a sample grid with a sampler of its own uses it, on the run's schedule", async () => {
  const grid = (name: string, sampler?: string) => [
    `+callbacks.${name}.type=sample-images`,
    `callbacks.${name}.every_steps=2`,
    `callbacks.${name}.every_epochs=0`,
    `callbacks.${name}.n=2`,
    `callbacks.${name}.tag=${name}`,
    ...(sampler ? [`callbacks.${name}.sampler=${sampler}`] : []),
  ];
  const record = await train(
    tinyOverrides(2, [...grid('runs_own'), ...grid('same', '{type: ddim, steps: 4}'), ...grid('other', '{type: ddim, steps: 2}')]),
  );
  const [runs, same, other] = ['runs_own@2', 'same@2', 'other@2'].map((key) => Array.from(record.pixels.get(key)!));
  assert.equal(same, runs, "the run's sampler, configured again, draws the same grid");
  assert.not.equal(other, runs, 'two DDIM steps instead of four draw another grid');
});

test('the same seed gives the same losses; another seed does not', async () => {
  const a = (await train(tinyOverrides(4))).scalars.get('Training/MSE');
  const b = (await train(tinyOverrides(4))).scalars.get('Training/MSE');
  const c = (await train(tinyOverrides(4, ['seed=7']))).scalars.get('Training/MSE');
  assert.equal(a, b);
  assert.not.equal(a, c);
});

test('two threads share each batch: deterministic, and the same losses as one thread up to rounding', async () => {
  const one = (await train(tinyOverrides(4))).scalars.get('Training/MSE')!;
  const two = (await train(tinyOverrides(4, ['trainer.threads=2']))).scalars.get('Training/MSE')!;
  const again = (await train(tinyOverrides(4, ['trainer.threads=2']))).scalars.get('Training/MSE')!;
  assert.equal(two, again);
  two.forEach((loss, i) => assert.ok(Math.abs(loss - one[i]) < 1e-4 * Math.abs(one[i]), `step ${i + 1}: ${loss} vs ${one[i]}`));
});

test('a loss that becomes NaN or infinite stops the run with a clear message', async () => {
  try {
    await train(tinyOverrides(30, ['optimizer.lr=1e30']));
    assert.unreachable('the run must stop');
  } catch (err) {
    assert.match((err as Error).message, /the loss became (NaN|Infinity) at step \d+; stopped \(the last good checkpoint is kept\)/);
  }
});

test('EMA: a copy during warm-up, then w = beta*w_ema + (1-beta)*w', async () => {
  await backendReady;
  const live = new Map([['w', tf.variable(tf.tensor1d([1, 2]))]]);
  const parent = new Container();
  parent.bind(TOKENS.Registry).toConstantValue(registerBuiltins());
  parent.bind(TOKENS.Objective).toConstantValue({});
  const ema = instantiate<Callback>(parent, 'callback', { type: 'ema', beta: 0.5, warmup_steps: 2, ramp: false, apply_at_end: false, weights: 'ema', loss_tag: '' }, 'callbacks.ema');
  const weights = new ModelWeightSets(live);
  const ctx = { model: { variables: () => live }, weights, step: 0 } as unknown as TrainingContext & { step: number };
  await ema.onRunBegin!(ctx);
  const shadow = async () => Array.from(await weights.use('ema', () => live.get('w')!.data()));
  const stepTo = async (step: number, value: number[]) => {
    live.get('w')!.assign(tf.tensor1d(value));
    ctx.step = step;
    await ema.onStepEnd!(ctx, undefined as never);
  };
  await stepTo(1, [3, 4]);
  assert.equal(await shadow(), [3, 4]); // warm-up: a copy
  await stepTo(2, [5, 6]);
  assert.equal(await shadow(), [5, 6]);
  await stepTo(3, [7, 10]);
  assert.equal(await shadow(), [6, 8]); // 0.5*[5,6] + 0.5*[7,10]
  await stepTo(4, [0, 0]);
  assert.equal(await shadow(), [3, 4]);
  assert.equal(Array.from(live.get('w')!.dataSync()), [0, 0], 'the live weights are back after use()');
  ema.dispose!();
  live.get('w')!.dispose();
});

test('EmaWeights.update allocates nothing that outlives the step', async () => {
  await backendReady;
  const live = new Map([['a', tf.variable(tf.ones([3, 3]))]]);
  const ema = new EmaWeights(live);
  ema.update(live, 0.9);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) ema.update(live, 0.9);
  assert.is(tf.memory().numTensors, before);
  ema.dispose();
  live.get('a')!.dispose();
});

test('readValues reads a computed tensor and frees it and what was made on the way', async () => {
  await backendReady;
  const x = tf.tensor1d([1, -2, 3]);
  const before = tf.memory().numTensors;
  const values = await readValues(() => tf.mul(tf.abs(x), 2));
  assert.equal(Array.from(values), [2, 4, 6]);
  assert.is(tf.memory().numTensors, before);
  x.dispose();
});

test.run();
