import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { Ajv } from 'ajv';
import { inject } from 'inversify';
import { registerBuiltins } from '../components/index.js';

const registry = registerBuiltins();
import { buildSchema } from '../framework/config/schema.js';
import { assemble } from '../framework/container/assembly.js';
import { TOKENS } from '../framework/container/tokens.js';
import type { Block, BlockFactory, BlockInput, Denoiser, Shape3 } from '../framework/interfaces.js';
import { gelu } from '../framework/nn/activations.js';
import { MultiHeadAttention } from '../framework/nn/attention.js';
import { GroupNorm } from '../framework/nn/norm.js';
import { ones, ParamStore } from '../framework/nn/param-store.js';
import { timestepEmbedding } from '../framework/nn/time-embedding.js';
import { block, Type, type ComponentConfig } from '../framework/registry/index.js';
import { Rng } from '../framework/rng.js';
import { backendReady } from './setup.js';

// design.md's parameter formulas.
const doubleConvParams = (cin: number, mid: number, out: number) => 9 * cin * mid + 2 * mid + 9 * mid * out + 2 * out;
const headParams = (channels: number) => 513 * channels;
const downParams = (cin: number, out: number) => doubleConvParams(cin, cin, cin) + doubleConvParams(cin, out, out) + headParams(out);
const upParams = (cin: number, out: number) =>
  doubleConvParams(cin, cin, cin) + doubleConvParams(cin, Math.floor(cin / 2), out) + headParams(out);
const attentionParams = (channels: number) => 6 * channels * channels + 8 * channels;

const one = (type: string, params: object = {}): ComponentConfig[] => [{ type, ...params }];

/** The paper's model as design.md's table names its stages (experiments/mnist-standard.yaml groups them; cli.test.ts checks its total). */
const PAPER_UNET = {
  type: 'UNet',
  stages: {
    start: one('DoubleConv', { out: 64 }),
    d1: one('Down', { out: 128 }),
    s1: one('SelfAttention'),
    d2: one('Down', { out: 256 }),
    s2: one('SelfAttention'),
    bottom: one('BottomConv', { out: 512 }),
    u1: one('Up', { out: 256 }),
    s5: one('SelfAttention'),
    u2: one('Up', { out: 128 }),
    s6: one('SelfAttention'),
  },
};

const TINY_UNET = {
  type: 'UNet',
  time_dim: 32,
  stages: {
    start: one('DoubleConv', { out: 8 }),
    down1: [{ type: 'Down', out: 16 }, { type: 'SelfAttention', heads: 2 }],
    down2: [{ type: 'Down', out: 32 }, { type: 'SelfAttention', heads: 2 }],
    bottom: one('BottomConv', { out: 32, depth: 2 }),
    up1: [{ type: 'Up', out: 16 }, { type: 'SelfAttention', heads: 2 }],
    up2: [{ type: 'Up', out: 8 }, { type: 'SelfAttention', heads: 2 }],
  },
};

/** Validates against the generated schema as a run does, which fills in the defaults. */
function withDefaults<T extends object>(definition: 'model' | 'block', config: T): T {
  const check = new Ajv({ useDefaults: true, strict: false, allErrors: true }).compile({
    $ref: `#/$defs/${definition}`,
    $defs: buildSchema(registry).$defs,
  });
  const copy = structuredClone(config);
  if (!check(copy)) throw new Error(`invalid ${definition}: ${JSON.stringify(check.errors)}`);
  return copy;
}

function buildModel(model: object, imageShape: Shape3 = [28, 28, 1], seed = 0): Denoiser {
  const container = assemble({ value: { seed, model: withDefaults('model', model) }, registry });
  container.rebind(TOKENS.ImageShape).toConstantValue(imageShape);
  try {
    return container.get<Denoiser>(TOKENS.Model);
  } catch (err) {
    container.get<ParamStore>(TOKENS.ParamStore).dispose();
    throw err;
  }
}

/** Builds one block the way the UNet does, through the container's BlockFactory. */
function buildBlock(config: ComponentConfig, input: Omit<BlockInput, 'embeddingDim'>) {
  const container = assemble({ value: { seed: 0 }, registry });
  const store = container.get<ParamStore>(TOKENS.ParamStore);
  const factory = container.get<BlockFactory>(TOKENS.BlockFactory);
  const built = factory(withDefaults('block', config), 'test', { ...input, embeddingDim: 512 }, store.scope('block'));
  const result = { outShape: built.outShape, params: store.count() };
  store.dispose();
  return result;
}

function throwsMessage(build: () => unknown): string {
  try {
    build();
  } catch (err) {
    return (err as Error).message;
  }
  assert.unreachable('expected the build to fail');
  return '';
}

test('blocks have design.md\'s parameter counts and output shapes', async () => {
  await backendReady;
  const cases: [ComponentConfig, Omit<BlockInput, 'embeddingDim'>, number, Shape3][] = [
    [{ type: 'DoubleConv', out: 64 }, { shape: [28, 28, 1] }, doubleConvParams(1, 64, 64), [28, 28, 64]],
    [{ type: 'DoubleConv', out: 16, mid: 32 }, { shape: [8, 8, 64] }, doubleConvParams(64, 32, 16), [8, 8, 16]],
    [{ type: 'DoubleConv', out: 16, residual: true }, { shape: [8, 8, 16] }, doubleConvParams(16, 16, 16), [8, 8, 16]],
    [{ type: 'Down', out: 128 }, { shape: [28, 28, 64] }, downParams(64, 128), [14, 14, 128]],
    [{ type: 'Down', out: 16 }, { shape: [8, 6, 8] }, downParams(8, 16), [4, 3, 16]],
    [{ type: 'Up', out: 128 }, { shape: [14, 14, 256], skip: [28, 28, 64] }, upParams(320, 128), [28, 28, 128]],
    [{ type: 'Up', out: 8 }, { shape: [4, 4, 16], skip: [8, 8, 9] }, upParams(25, 8), [8, 8, 8]],
    [{ type: 'SelfAttention' }, { shape: [14, 14, 128] }, 99_328, [14, 14, 128]],
    [{ type: 'SelfAttention', heads: 2 }, { shape: [7, 7, 8] }, attentionParams(8), [7, 7, 8]],
    [{ type: 'BottomConv', out: 16, depth: 2 }, { shape: [7, 7, 8] }, doubleConvParams(8, 16, 16) + doubleConvParams(16, 16, 16), [7, 7, 16]],
  ];
  for (const [config, input, params, outShape] of cases) {
    const built = buildBlock(config, input);
    const label = `${JSON.stringify(config)} on ${input.shape}`;
    assert.is(built.params, params, label);
    assert.equal(built.outShape, outShape, label);
  }
  assert.is(attentionParams(128), 99_328);
});

test('the paper UNet has 28,327,297 parameters, per stage as in design.md', () => {
  const model = buildModel(PAPER_UNET);
  try {
    const rows = model.summary();
    assert.equal(
      rows.map((r) => [r.stage, r.block, r.outShape.join('×'), r.params]),
      [
        ['start', 'DoubleConv', '28×28×64', 37_696],
        ['d1', 'Down', '14×14×128', 361_344],
        ['s1', 'SelfAttention', '14×14×128', 99_328],
        ['d2', 'Down', '7×7×256', 1_312_512],
        ['s2', 'SelfAttention', '7×7×256', 395_264],
        ['bottom', 'BottomConv', '7×7×512', 12_982_272],
        ['u1', 'Up', '14×14×256', 10_088_320],
        ['s5', 'SelfAttention', '14×14×256', 395_264],
        ['u2', 'Up', '28×28×128', 2_555_840],
        ['s6', 'SelfAttention', '28×28×128', 99_328],
        ['out', 'conv1x1', '28×28×1', 129],
      ],
    );
    const variables = [...model.variables().values()];
    assert.is(variables.reduce((sum, v) => sum + v.size, 0), 28_327_297);
    assert.ok(model.variables().has('stages.u1.0.conv1.conv1.kernel'));
    // Up(640, 256) at 14×14: convs 1.95 GMAC (performance-notes.md section 0), plus its head.
    const upConvMacs = 9 * 14 * 14 * (640 * 640 * 2 + 640 * 320 + 320 * 256);
    assert.is(rows[6].flops, 2 * (upConvMacs + 512 * 256));
    const totalGflops = rows.reduce((sum, r) => sum + r.flops, 0) / 1e9;
    assert.ok(totalGflops > 10 && totalGflops < 10.5, `forward ${totalGflops} GFLOP`);
  } finally {
    model.dispose();
  }
});

test('a tiny UNet predicts the input shape without leaking, and every variable gets a finite, nonzero gradient', () => {
  const model = buildModel(TINY_UNET);
  const x = tf.randomNormal([2, 28, 28, 1]) as tf.Tensor4D;
  const t = tf.tensor1d([1, 300], 'int32');
  try {
    tf.dispose(model.predict(x, t)); // burn-in: kernels may allocate on first use
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = model.predict(x, t);
      assert.equal(out.shape, [2, 28, 28, 1]);
      out.dispose();
    }
    assert.is(tf.memory().numTensors, before, 'predict leaked tensors');

    const named = [...model.variables()];
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.square(model.predict(x, t))) as tf.Scalar,
      named.map(([, v]) => v),
    );
    for (const [name, variable] of named) {
      const grad = grads[variable.name].dataSync();
      assert.ok(grad.every(Number.isFinite), `${name}: non-finite gradient`);
      assert.ok(grad.some((g) => g !== 0), `${name}: zero gradient`);
    }
    tf.dispose([value, grads]);
  } finally {
    tf.dispose([x, t]);
    model.dispose();
  }
});

test('the same seed gives the same initial weights, another seed others', () => {
  const weights = (seed: number) => {
    const model = buildModel(TINY_UNET, [8, 8, 1], seed);
    const values = [...model.variables()].map(([name, v]) => [name, Array.from(v.dataSync())] as const);
    model.dispose();
    return values;
  };
  const first = weights(7);
  assert.equal(weights(7), first);
  assert.not.equal(weights(8), first);
});

test('shapes that do not divide fail at build time with the YAML path', () => {
  const { start, down1, down2, ...rest } = TINY_UNET.stages;
  const tooDeep = { ...TINY_UNET, stages: { start, down1, down2, down3: one('Down', { out: 32 }), ...rest } };
  assert.match(throwsMessage(() => buildModel(tooDeep)), /^model\.stages\.down3\.0: Down on 7×7×32: .*odd side/);
});

test('skip wiring errors name the stage and block', () => {
  const noSkip = { type: 'UNet', stages: { start: one('DoubleConv', { out: 8 }), up: one('Up', { out: 8 }) } };
  assert.match(throwsMessage(() => buildModel(noSkip, [8, 8, 1])), /^model\.stages\.up\.0: Up on 8×8×8: .*no(ne is)? kept above 8×8/);

  const neverUp = { type: 'UNet', stages: { start: one('DoubleConv', { out: 8 }), down: one('Down', { out: 8 }) } };
  assert.match(throwsMessage(() => buildModel(neverUp, [8, 8, 1])), /^model\.stages: the last block outputs 4×4×8/);

  const heads = { type: 'UNet', stages: { start: one('DoubleConv', { out: 6 }), attend: one('SelfAttention', { heads: 4 }) } };
  assert.match(throwsMessage(() => buildModel(heads, [8, 8, 1])), /^model\.stages\.attend\.0: .*4 attention heads do not divide 6/);

  const integerStage = { type: 'UNet', stages: { 1: one('DoubleConv', { out: 8 }) } };
  assert.match(throwsMessage(() => buildModel(integerStage, [8, 8, 1])), /^model\.stages\.1: .*must not be an integer/);
});

test('a block registered by the user is built through the factory in any stage', () => {
  class Gain implements Block {
    readonly outShape: Shape3;
    private readonly gain: tf.Variable;
    constructor(@inject(TOKENS.BlockInput) input: BlockInput, @inject(TOKENS.ParamStore) store: ParamStore) {
      this.outShape = input.shape;
      this.gain = store.variable('gain', [input.shape[2]], ones);
    }
    forward(x: tf.Tensor4D): tf.Tensor4D {
      return tf.mul(x, this.gain);
    }
    flops(): number {
      return 0;
    }
  }
  block('TestGain', { description: 'x times a learned per-channel gain', params: Type.Object({}) })(Gain);
  registry.addModule('test-gain', { Gain });
  {
    const config = {
      type: 'UNet',
      stages: { start: one('DoubleConv', { out: 8 }), mid: [{ type: 'TestGain' }, { type: 'TestGain' }] },
    };
    const model = buildModel(config, [8, 8, 1]);
    const rows = model.summary();
    model.dispose();
    assert.equal(rows.slice(1, 3).map((r) => [r.stage, r.block, r.params]), [['mid', 'TestGain', 8], ['mid', 'TestGain', 8]]);
  }
});

test('layers: sinusoidal embedding, exact GELU, one-group GroupNorm', () => {
  const [embedding] = tf.tidy(() => timestepEmbedding(tf.tensor1d([0, 3]), 8).arraySync());
  assert.equal(embedding, [0, 0, 0, 0, 1, 1, 1, 1]);
  const [, three] = tf.tidy(() => timestepEmbedding(tf.tensor1d([0, 3]), 8).arraySync());
  const frequencies = [0, 1, 2, 3].map((i) => 10000 ** (-(2 * i) / 8));
  const expected = [...frequencies.map((f) => Math.sin(3 * f)), ...frequencies.map((f) => Math.cos(3 * f))];
  three.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `embedding[${i}]`));

  const activated = tf.tidy(() => gelu(tf.tensor1d([-1, 0, 1, 2])).arraySync());
  [-0.15865525, 0, 0.84134475, 1.95449974].forEach((v, i) => assert.ok(Math.abs(activated[i] - v) < 1e-6, `gelu ${v}`));

  const store = ParamStore.create(new Rng(0));
  const norm = new GroupNorm(store, 3);
  const [mean, variance] = tf.tidy(() => {
    const x = tf.randomNormal([2, 4, 4, 3], 5, 3) as tf.Tensor4D;
    const m = tf.moments(norm.forward(x), [1, 2, 3]);
    return [m.mean.arraySync() as number[], m.variance.arraySync() as number[]];
  });
  store.dispose();
  mean.forEach((m) => assert.ok(Math.abs(m) < 1e-5, `mean ${m}`));
  variance.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-3, `variance ${v}`));
});

test('multi-head attention matches a plain per-head softmax(q·kᵀ/√d)·v with torch\'s [q | k | v] layout', () => {
  const [channels, heads, count] = [4, 2, 3];
  const store = ParamStore.create(new Rng(1));
  // Nonzero biases, so that a misplaced bias shows.
  const attention = new MultiHeadAttention(store, channels, heads);
  for (const v of store.variables().values()) v.assign(tf.randomNormal(v.shape));
  const tokens = tf.randomNormal([1, count, channels]) as tf.Tensor3D;
  const actual = tf.tidy(() => attention.forward(tokens).arraySync()[0]);

  const value = (name: string) => store.variables().get(name)!.arraySync() as number[][] & number[];
  const linear = (x: number[], w: number[][], b: number[]) => b.map((bias, o) => bias + x.reduce((s, xi, i) => s + xi * w[i][o], 0));
  const x = tokens.arraySync()[0];
  const qkv = x.map((row) => linear(row, value('in_proj.kernel'), value('in_proj.bias')));
  const size = channels / heads;
  const joined = x.map(() => new Array<number>(channels).fill(0));
  for (let h = 0; h < heads; h++) {
    const part = (row: number[], which: number) => row.slice(which * channels + h * size, which * channels + (h + 1) * size);
    const dot = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + ai * b[i], 0);
    for (let i = 0; i < count; i++) {
      const scores = qkv.map((row) => dot(part(qkv[i], 0), part(row, 1)) / Math.sqrt(size));
      const weights = scores.map((sc) => Math.exp(sc - Math.max(...scores)));
      const total = weights.reduce((a, b) => a + b, 0);
      for (let j = 0; j < count; j++) part(qkv[j], 2).forEach((v, d) => (joined[i][h * size + d] += (weights[j] / total) * v));
    }
  }
  const expected = joined.map((row) => linear(row, value('out_proj.kernel'), value('out_proj.bias')));
  expected.flat().forEach((v, i) => assert.ok(Math.abs(actual.flat()[i] - v) < 1e-4, `output ${i}: ${actual.flat()[i]} vs ${v}`));
  tokens.dispose();
  store.dispose();
});

test.run();
