import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { Container } from 'inversify';
import { Value } from '@sinclair/typebox/value';
import { registerBuiltins } from '../components/index.js';
import { NoisePrediction } from '../components/objectives/noise-prediction.js';
import { minSnrWeight, noiseFrom, PREDICTIONS, targetOf, type Prediction } from '../framework/diffusion/prediction.js';
import type { ComponentConfig, Kind } from '../framework/registry/index.js';
import { instantiate } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import { ForwardProcess, drawNoise } from '../framework/diffusion/forward-process.js';
import { BuildError } from '../framework/errors.js';
import { Rng } from '../framework/rng.js';
import type { Denoiser, NoiseSchedule, Sampler, Shape3 } from '../framework/interfaces.js';
import { backendReady } from './setup.js';
import { moments } from './support/stats.js';

const registry = registerBuiltins();

/** Builds a component as a run does: its schema's defaults filled in, constructed by the container. */
function build<T>(kind: Kind, config: ComponentConfig, parent = new Container()): T {
  if (!parent.isBound(TOKENS.Registry)) parent.bind(TOKENS.Registry).toConstantValue(registry);
  const params = Value.Default(registry.get(kind, config.type).params, { ...config }) as ComponentConfig;
  return instantiate<T>(parent, kind, params, kind);
}

const scheduleOf = (config: ComponentConfig) => build<NoiseSchedule>('schedule', config);

function samplerOf(config: ComponentConfig, schedule: NoiseSchedule): Sampler {
  const parent = new Container();
  parent.bind(TOKENS.Schedule).toConstantValue(schedule);
  return build<Sampler>('sampler', config, parent);
}

const paramsAccepted = (kind: Kind, config: ComponentConfig) => {
  const { type, ...params } = config;
  return Value.Check(registry.get(kind, type).params, Value.Default(registry.get(kind, type).params, params));
};

/** A denoiser given as a function of (x, t) that records the timesteps it is asked about. */
class FunctionModel implements Denoiser {
  readonly calls: number[][] = [];
  constructor(private readonly predictNoise: (x: tf.Tensor4D, t: tf.Tensor1D) => tf.Tensor4D) {}
  predict(x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D {
    this.calls.push([...t.dataSync()]);
    return this.predictNoise(x, t);
  }
  variables() {
    return new Map<string, tf.Variable>();
  }
  summary() {
    return [];
  }
  dispose() {}
}

/** ε_θ(x, t) = x·t/10: depends on both inputs, so a wrong t or a wrong x changes the result. */
const scaledInput = () =>
  new FunctionModel((x, t) => x.mul(t.cast('float32').div(10).reshape([-1, 1, 1, 1])));

/**
 * The model every sampler should invert exactly: it knows x_0 and returns the noise that
 * takes x_0 to x_t, ε = (x_t − √ᾱ_t·x_0)/√(1 − ᾱ_t). (Samplers give every example one t.)
 */
function oracle(schedule: NoiseSchedule, x0: tf.Tensor4D): FunctionModel {
  return new FunctionModel((x, t) => {
    const alphaBar = schedule.alphaBars[t.dataSync()[0]];
    return x.sub(x0.mul(Math.sqrt(alphaBar))).div(Math.sqrt(1 - alphaBar));
  });
}

function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string) {
  assert.is(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tolerance)) {
      assert.unreachable(`${what}[${i}] is ${actual[i]}, expected ${expected[i]} ± ${tolerance}`);
    }
  }
}

const size = ([h, w, c]: Shape3) => h * w * c;

test.before(async () => {
  await backendReady;
});

// ---------------------------------------------------------------- schedules

test("linear: the paper's betas, linspace(1e-4, 0.02, 512), and ᾱ = Π(1 − β)", () => {
  const schedule = scheduleOf({ type: 'linear' });
  assert.is(schedule.steps, 512);
  assert.is(schedule.betas[0], 1e-4);
  assert.ok(Math.abs(schedule.betas[1] - (1e-4 + (0.02 - 1e-4) / 511)) < 1e-18);
  assert.ok(Math.abs(schedule.betas[511] - 0.02) < 1e-17);
  let product = 1;
  for (let t = 0; t < 512; t++) {
    const beta = 1e-4 + (t * (0.02 - 1e-4)) / 511;
    product *= 1 - beta;
    assert.ok(Math.abs(schedule.alphas[t] - (1 - beta)) < 1e-15, `α_${t}`);
    assert.ok(Math.abs(schedule.alphaBars[t] - product) < 1e-14, `ᾱ_${t}`);
  }
  // Computed separately in Python (float64): the signal left at the last timestep.
  assert.ok(Math.abs(schedule.alphaBars[511] - 0.005626398067682906) < 1e-12);
});

test('cosine: ᾱ follows cos² until β is clipped at max_beta, and falls monotonically', () => {
  const [T, s] = [512, 0.008];
  const schedule = scheduleOf({ type: 'cosine' });
  assert.is(schedule.steps, T);
  const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  // Index t holds ᾱ(t + 1), the cumulative product including α_0.
  for (let t = 0; t < T - 1; t++) {
    assert.ok(Math.abs(schedule.alphaBars[t] - f(t + 1) / f(0)) < 1e-12, `ᾱ_${t}`);
  }
  for (let t = 1; t < T; t++) {
    assert.ok(schedule.alphaBars[t] < schedule.alphaBars[t - 1], `ᾱ decreases at ${t}`);
    assert.ok(Math.abs(schedule.betas[t] - (1 - schedule.alphaBars[t] / schedule.alphaBars[t - 1])) < 1e-9, `β_${t}`);
  }
  // ᾱ(T) = 0 would make β_{T−1} = 1; it is clipped, so ᾱ stays positive.
  assert.is(schedule.betas[T - 1], 0.999);
  assert.ok(schedule.alphaBars[T - 1] > 0);

  const tight = scheduleOf({ type: 'cosine', steps: 64, max_beta: 0.2 });
  const clipped = [...tight.betas].filter((beta) => beta === 0.2).length;
  assert.ok(clipped > 1, `several betas clipped, got ${clipped}`);
  assert.ok(tight.betas.every((beta) => beta > 0 && beta <= 0.2));
});

test('the schemas reject values no schedule or sampler can use', () => {
  assert.ok(paramsAccepted('schedule', { type: 'linear' }));
  assert.ok(paramsAccepted('schedule', { type: 'cosine' }));
  assert.ok(paramsAccepted('sampler', { type: 'ddim' }));
  assert.ok(paramsAccepted('sampler', { type: 'ddpm' }));
  assert.not.ok(paramsAccepted('schedule', { type: 'linear', steps: 1 }));
  assert.not.ok(paramsAccepted('schedule', { type: 'linear', beta_end: 1 }));
  assert.not.ok(paramsAccepted('schedule', { type: 'cosine', max_beta: 1 }));
  assert.not.ok(paramsAccepted('sampler', { type: 'ddim', eta: 1.5 }));
  assert.not.ok(paramsAccepted('sampler', { type: 'ddim', steps: 2.5 }));
});

// ---------------------------------------------------------------- forward process

test('qSample with ε = 0 is exactly √ᾱ_t·x_0, per example', () => {
  const schedule = scheduleOf({ type: 'linear' });
  const forward = new ForwardProcess(schedule);
  const steps = [1, 200, 511];
  const x0 = drawNoise(new Rng(1), [3, 4, 4, 1]);
  const t = tf.tensor1d(steps, 'int32');
  const zero = tf.zerosLike(x0);
  const xt = forward.qSample(x0, t, zero);
  const x0Values = x0.dataSync();
  const expected = x0Values.map((v, i) => Math.fround(Math.fround(Math.sqrt(schedule.alphaBars[steps[Math.floor(i / 16)]])) * v));
  assert.equal([...xt.dataSync()], [...expected]);
  tf.dispose([x0, t, zero, xt]);
  forward.dispose();
});

test('qSample of x_0 = 0 has mean 0 and std √(1 − ᾱ_t) for each example', () => {
  const schedule = scheduleOf({ type: 'linear' });
  const forward = new ForwardProcess(schedule);
  const steps = [1, 50, 511];
  const pixels = 64 * 64;
  const x0 = tf.zeros([3, 64, 64, 1]) as tf.Tensor4D;
  const t = tf.tensor1d(steps, 'int32');
  const noise = drawNoise(new Rng(2), [3, 64, 64, 1]);
  const values = forward.qSample(x0, t, noise);
  const data = values.dataSync();
  steps.forEach((step, example) => {
    const { mean, std } = moments(data.subarray(example * pixels, (example + 1) * pixels));
    const expected = Math.sqrt(1 - schedule.alphaBars[step]);
    // Standard errors for 4096 values: σ/64 for the mean, about σ/90 for the std.
    assert.ok(Math.abs(mean) < (4 * expected) / 64, `mean at t=${step}: ${mean}`);
    assert.ok(Math.abs(std / expected - 1) < 0.05, `std at t=${step}: ${std}, expected ${expected}`);
  });
  tf.dispose([x0, t, noise, values]);
  forward.dispose();
});

test("the noise-prediction objective's loss is the mean squared error over every element", async () => {
  const predicted = tf.tensor4d([1, 2, 3, 4, 0, 0], [2, 3, 1, 1]);
  const model = { predict: () => predicted.clone() } as unknown as Denoiser;
  const objective = new NoisePrediction({ timesteps: 'per-batch', min_snr_gamma: 0, loss_tag: 'loss' }, model, scheduleOf({ type: 'linear', steps: 10 }));
  const noise = tf.tensor4d([0, 0, 0, 0, 1, -1], [2, 3, 1, 1]);
  const inputs = { xt: tf.zeros([2, 3, 1, 1]), t: tf.tensor1d([1, 1], 'int32'), target: noise };
  const loss = objective.loss(inputs);
  assert.ok(Math.abs((await loss.data())[0] - (1 + 4 + 9 + 16 + 1 + 1) / 6) < 1e-6);
  tf.dispose([predicted, loss, ...Object.values(inputs)]);
});

test('timesteps lie in 1..T−1: one per batch, or one per example', () => {
  const forward = new ForwardProcess(scheduleOf({ type: 'linear', steps: 10 }));
  const rng = new Rng(3);
  const seenPerBatch = new Set<number>();
  for (let batch = 0; batch < 200; batch++) {
    const t = forward.drawTimesteps(rng, 16, 'per-batch');
    assert.is(t.length, 16);
    assert.ok(t.every((v) => v === t[0]), 'one t shared by the batch');
    seenPerBatch.add(t[0]);
  }
  assert.equal([...seenPerBatch].sort(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const perExample = forward.drawTimesteps(rng, 1000, 'per-example');
  assert.equal([...new Set(perExample)].sort(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  forward.dispose();
});

test('noise and timesteps depend only on the seed, and noise is the Rng\'s normal stream', () => {
  const forward = new ForwardProcess(scheduleOf({ type: 'linear', steps: 10 }));
  const draw = (seed: number) => {
    const rng = new Rng(seed);
    const noise = drawNoise(rng, [2, 3, 3, 1]);
    const drawn = { noise: [...noise.dataSync()], t: [...forward.drawTimesteps(rng, 8, 'per-example')] };
    noise.dispose();
    return drawn;
  };
  assert.equal(draw(5), draw(5));
  assert.not.equal(draw(5).noise, draw(6).noise);
  assert.equal(draw(5).noise, [...new Rng(5).fillNormal(new Float32Array(18))]);
  forward.dispose();
});

test('the forward process keeps two tensors, frees them on dispose, and leaks nothing per batch', () => {
  const before = tf.memory().numTensors;
  const forward = new ForwardProcess(scheduleOf({ type: 'linear', steps: 10 }));
  assert.is(tf.memory().numTensors, before + 2);
  const x0 = tf.ones([2, 2, 2, 1]) as tf.Tensor4D;
  const t = tf.tensor1d([3, 7], 'int32');
  const noise = drawNoise(new Rng(0), [2, 2, 2, 1]);
  const inputs = tf.memory().numTensors;
  const xt = forward.qSample(x0, t, noise);
  assert.is(tf.memory().numTensors, inputs + 1);
  tf.dispose([x0, t, noise, xt]);
  forward.dispose();
  assert.is(tf.memory().numTensors, before);
});

// ---------------------------------------------------------------- samplers

/** One step of a sampler's recursion, per element, in plain float64 JS. */
interface ReferenceStep {
  t: number;
  /** Whether the sampler draws z at this step. */
  noisy: boolean;
  next(x: number, epsilon: number, z: number): number;
}

/** Runs reference steps from the same draws as the samplers: x_T, then one z per noisy step. */
function referenceSamples(count: number, seed: number, steps: ReferenceStep[], model: (x: number, t: number) => number) {
  const rng = new Rng(seed);
  const x = Float64Array.from(rng.fillNormal(new Float32Array(count)));
  for (const step of steps) {
    const z = step.noisy ? rng.fillNormal(new Float32Array(count)) : new Float32Array(count);
    for (let i = 0; i < count; i++) x[i] = step.next(x[i], model(x[i], step.t), z[i]);
  }
  return x.map(clamp);
}

const clamp = (v: number) => Math.min(1, Math.max(-1, v));
const scaledInputReference = (x: number, t: number) => (x * t) / 10;

/** Ho et al.'s Algorithm 2 as the paper writes it, for t = T−1 … 1. */
function ddpmSteps({ steps, alphas, alphaBars }: NoiseSchedule): ReferenceStep[] {
  return Array.from({ length: steps - 1 }, (_, i) => {
    const t = steps - 1 - i;
    const [alpha, alphaBar] = [alphas[t], alphaBars[t]];
    return {
      t,
      noisy: t > 1,
      next: (x, e, z) => (x - ((1 - alpha) / Math.sqrt(1 - alphaBar)) * e) / Math.sqrt(alpha) + Math.sqrt(1 - alpha) * z,
    };
  });
}

/** Song et al.'s DDIM update (their eq. 12) over the given timesteps, x_0 estimates clamped and ε re-derived from them. */
function ddimSteps({ alphaBars }: NoiseSchedule, timesteps: number[], eta: number): ReferenceStep[] {
  return timesteps.map((t, k) => {
    const [now, previous] = [alphaBars[t], k + 1 < timesteps.length ? alphaBars[timesteps[k + 1]] : 1];
    const sigma = eta * Math.sqrt(((1 - previous) / (1 - now)) * (1 - now / previous));
    return {
      t,
      noisy: sigma > 0,
      next: (x, e, z) => {
        const x0 = clamp((x - Math.sqrt(1 - now) * e) / Math.sqrt(now));
        const consistent = (x - Math.sqrt(now) * x0) / Math.sqrt(1 - now);
        return Math.sqrt(previous) * x0 + Math.sqrt(1 - previous - sigma ** 2) * consistent + sigma * z;
      },
    };
  });
}

test('ddpm: matches a float64 reimplementation of the paper\'s recursion, draw for draw', () => {
  const schedule = scheduleOf({ type: 'linear', steps: 10, beta_start: 0.01, beta_end: 0.2 });
  const sampler = samplerOf({ type: 'ddpm' }, schedule);
  assert.is(sampler.evaluations, 9);
  const model = scaledInput();
  const progress: number[][] = [];
  const shape: Shape3 = [5, 5, 1];
  const samples = sampler.sample(model, 4, shape, new Rng(11), { onStep: (done, total) => progress.push([done, total]) });
  assert.equal(samples.shape, [4, 5, 5, 1]);
  assert.equal(model.calls, [9, 8, 7, 6, 5, 4, 3, 2, 1].map((t) => [t, t, t, t]));
  assert.equal(progress, Array.from({ length: 9 }, (_, i) => [i + 1, 9]));
  const expected = referenceSamples(4 * size(shape), 11, ddpmSteps(schedule), scaledInputReference);
  assertAllClose(samples.dataSync(), expected, 1e-5, 'ddpm sample');
  assert.ok(expected.some((v) => Math.abs(v) < 0.9), 'not everything was clamped');
  samples.dispose();
});

test('ddim: 50 evenly spaced timesteps from T−1 down to 1, one model call each', () => {
  const sampler = samplerOf({ type: 'ddim' }, scheduleOf({ type: 'linear' }));
  assert.is(sampler.evaluations, 50);
  const model = scaledInput();
  const progress: number[] = [];
  sampler.sample(model, 2, [2, 2, 1], new Rng(0), { onStep: (done) => progress.push(done) }).dispose();
  const timesteps = model.calls.map(([t, other]) => (assert.is(other, t), t));
  assert.is(timesteps.length, 50);
  assert.is(timesteps[0], 511);
  assert.is(timesteps[49], 1);
  const gaps = timesteps.slice(1).map((t, k) => timesteps[k] - t);
  assert.ok(gaps.every((gap) => gap === 10 || gap === 11), `gaps ${gaps}`);
  assert.equal(progress, Array.from({ length: 50 }, (_, i) => i + 1));
});

test('ddim (eta 0.5): matches a float64 reimplementation of Song et al.\'s update, draw for draw', () => {
  const schedule = scheduleOf({ type: 'linear', steps: 10, beta_start: 0.01, beta_end: 0.2 });
  const sampler = samplerOf({ type: 'ddim', steps: 4, eta: 0.5 }, schedule);
  const model = scaledInput();
  const shape: Shape3 = [5, 5, 1];
  const samples = sampler.sample(model, 4, shape, new Rng(12));
  const timesteps = [9, 6, 4, 1];
  assert.equal(model.calls, timesteps.map((t) => [t, t, t, t]));
  const expected = referenceSamples(4 * size(shape), 12, ddimSteps(schedule, timesteps, 0.5), scaledInputReference);
  assertAllClose(samples.dataSync(), expected, 1e-5, 'ddim sample');
  assert.ok(expected.some((v) => Math.abs(v) < 0.9), 'not everything was clamped');
  samples.dispose();
});

test('ddim: asking for more steps than the schedule has is an error that names the key', () => {
  const schedule = scheduleOf({ type: 'linear', steps: 10 });
  assert.is(samplerOf({ type: 'ddim', steps: 9 }, schedule).evaluations, 9);
  assert.throws(
    () => samplerOf({ type: 'ddim', steps: 10 }, schedule),
    (err: Error) => err instanceof BuildError && err.path === 'sampler.steps' && /is 10.*only 9/.test(err.message),
  );
});

for (const eta of [0, 1]) {
  test(`ddim (eta ${eta}): a model that knows the true noise takes any x_T back to x_0`, () => {
    const schedule = scheduleOf({ type: 'linear' });
    const sampler = samplerOf({ type: 'ddim', steps: 20, eta }, schedule);
    const shape: Shape3 = [6, 6, 1];
    const x0 = drawNoise(new Rng(21), [3, ...shape]).tanh();
    const samples = sampler.sample(oracle(schedule, x0), 3, shape, new Rng(22));
    assertAllClose(samples.dataSync(), x0.dataSync(), 1e-4, 'recovered x_0');
    tf.dispose([x0, samples]);
  });
}

test('ddim with eta 0 is a deterministic function of x_T: it draws nothing after it', () => {
  const sampler = samplerOf({ type: 'ddim', steps: 10 }, scheduleOf({ type: 'linear' }));
  const shape: Shape3 = [4, 4, 1];
  const run = (rng: Rng) => {
    const samples = sampler.sample(scaledInput(), 2, shape, rng);
    const values = [...samples.dataSync()];
    samples.dispose();
    return values;
  };
  const rng = new Rng(8);
  const first = run(rng);
  assert.equal(run(new Rng(8)), first);
  assert.not.equal(run(new Rng(9)), first);
  const initialNoiseOnly = new Rng(8);
  initialNoiseOnly.fillNormal(new Float32Array(2 * size(shape)));
  assert.equal(rng.state(), initialNoiseOnly.state());
});

for (const config of [{ type: 'ddpm' }, { type: 'ddim', steps: 5, eta: 1 }]) {
  test(`${config.type}: sampling leaves only the returned tensor behind`, () => {
    const sampler = samplerOf(config, scheduleOf({ type: 'linear', steps: 10 }));
    const model = scaledInput();
    for (let round = 0; round < 2; round++) {
      const before = tf.memory().numTensors;
      const samples = sampler.sample(model, 2, [3, 3, 1], new Rng(round));
      assert.is(tf.memory().numTensors, before + 1);
      samples.dispose();
    }
  });
}

/** A model that knows x_0 and outputs it in the form `prediction` asks for. */
function predictingOracle(schedule: NoiseSchedule, x0: tf.Tensor4D, prediction: Prediction): Denoiser {
  const noise = oracle(schedule, x0);
  return Object.assign(
    new FunctionModel((x, t) => {
      const alphaBar = schedule.alphaBars[t.dataSync()[0]];
      const scales = { alpha: Math.sqrt(alphaBar), sigma: Math.sqrt(1 - alphaBar) };
      return targetOf(prediction, x0, noise.predict(x, t), scales) as tf.Tensor4D;
    }),
    { prediction },
  );
}

for (const prediction of PREDICTIONS) {
  test(`prediction '${prediction}': the target and the noise it implies round-trip`, () => {
    const rng = new Rng(30);
    const [x0, noise] = [drawNoise(rng, [2, 3, 3, 1]), drawNoise(rng, [2, 3, 3, 1])];
    const scales = { alpha: 0.6, sigma: 0.8 };
    const xt = tf.add(tf.mul(0.6, x0), tf.mul(0.8, noise)) as tf.Tensor4D;
    const back = noiseFrom(prediction, targetOf(prediction, x0, noise, scales) as tf.Tensor4D, xt, scales);
    assertAllClose(back.dataSync(), noise.dataSync(), 1e-5, `${prediction} -> epsilon`);
    tf.dispose([x0, noise, xt, back]);
  });

  for (const config of [{ type: 'ddim', steps: 20 }, { type: 'dpm-solver++', steps: 20 }]) {
    test(`${config.type} with a model that predicts '${prediction}' exactly takes any x_T back to x_0`, () => {
      const schedule = scheduleOf({ type: 'linear' });
      const shape: Shape3 = [5, 5, 1];
      const x0 = drawNoise(new Rng(31), [2, ...shape]).tanh();
      const samples = samplerOf(config, schedule).sample(predictingOracle(schedule, x0, prediction), 2, shape, new Rng(32));
      assertAllClose(samples.dataSync(), x0.dataSync(), 1e-4, 'recovered x_0');
      tf.dispose([x0, samples]);
    });
  }
}

test('dpm-solver++: one model call per step, and Gaussian data comes back with its mean and spread in 15 calls', () => {
  const schedule = scheduleOf({ type: 'linear' });
  // Data N(mu, s²) per pixel: the exact ε of x_t is known in closed form.
  const [mu, s] = [0.3, 0.25];
  const model = new FunctionModel((x, t) => {
    const alphaBar = schedule.alphaBars[t.dataSync()[0]];
    const [alpha, sigma] = [Math.sqrt(alphaBar), Math.sqrt(1 - alphaBar)];
    const x0Mean = x.sub(alpha * mu).mul((alpha * s * s) / (alphaBar * s * s + 1 - alphaBar)).add(mu);
    return x.sub(x0Mean.mul(alpha)).div(sigma);
  });
  const samples = samplerOf({ type: 'dpm-solver++', steps: 15, clip_denoised: false }, schedule).sample(model, 4000, [1, 1, 1], new Rng(33));
  assert.is(model.calls.length, 15);
  const { mean, std } = moments(samples.dataSync());
  assert.ok(Math.abs(mean - mu) < 0.02, `mean ${mean}`);
  // Measured: 0.2525 at 15 calls (DDIM at 15: 0.195; at 200: 0.245).
  assert.ok(Math.abs(std / s - 1) < 0.03, `std ${std}, expected ${s}`);
  samples.dispose();
});

test('dpm-solver++: sampling leaves only the returned tensor behind', () => {
  const sampler = samplerOf({ type: 'dpm-solver++', steps: 5 }, scheduleOf({ type: 'linear', steps: 10 }));
  for (let round = 0; round < 2; round++) {
    const before = tf.memory().numTensors;
    const samples = sampler.sample(scaledInput(), 2, [3, 3, 1], new Rng(round));
    assert.is(tf.memory().numTensors, before + 1);
    samples.dispose();
  }
});

test('min-SNR-γ weights: min(SNR, γ) over the SNR the target already carries', () => {
  assert.is(minSnrWeight('epsilon', 20, 5), 5 / 20);
  assert.is(minSnrWeight('epsilon', 2, 5), 1);
  assert.is(minSnrWeight('v', 20, 5), 5 / 21);
  assert.is(minSnrWeight('x0', 2, 5), 2);
});

test('the noise-prediction objective regresses v for a v-predicting model, min-SNR weighted per example', async () => {
  const schedule = scheduleOf({ type: 'linear', steps: 10 });
  const output = tf.zeros([2, 2, 2, 1]);
  const model = { prediction: 'v', predict: () => output.clone() } as unknown as Denoiser;
  const objective = new NoisePrediction({ timesteps: 'per-example', min_snr_gamma: 1, loss_tag: 'loss' }, model, schedule);
  const x = tf.ones([2, 2, 2, 1]) as tf.Tensor4D;
  const inputs = objective.prepare({ x }, new Rng(34));
  const [steps, target, weight] = [await inputs.t.data(), (await inputs.target.data()) as Float32Array, await inputs.weight.data()];
  const loss = (await objective.loss(inputs).data())[0];
  let expected = 0;
  for (let i = 0; i < 2; i++) {
    const alphaBar = schedule.alphaBars[steps[i]];
    assert.ok(Math.abs(weight[i] - minSnrWeight('v', alphaBar / (1 - alphaBar), 1)) < 1e-6, `weight ${i}`);
    expected += (weight[i] * target.slice(4 * i, 4 * i + 4).reduce((sum, v) => sum + v * v, 0)) / 4 / 2;
  }
  assert.ok(Math.abs(loss - expected) < 1e-5, `loss ${loss}, expected ${expected}`);
  tf.dispose([output, x, ...Object.values(inputs)]);
  objective.dispose();
});

test.run();
