import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, type RngState } from '../framework/rng.js';
import { XpError } from '../framework/errors.js';
import { moments } from './support/stats.js';

const draws = (n: number, draw: () => number) => Array.from({ length: n }, draw);

test('uint32 is the reference xoshiro128** (output of Vigna\'s C code from state 1,2,3,4)', () => {
  const rng = Rng.fromState({ algorithm: 'xoshiro128**', words: [1, 2, 3, 4], spareNormal: null });
  assert.equal(draws(6, () => rng.uint32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test('one seed gives one stream; other seeds give others', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  assert.equal(draws(100, () => a.uint32()), draws(100, () => b.uint32()));
  const firsts = [0, 1, 2, 2 ** 32, -1, Number.MAX_SAFE_INTEGER].map((seed) => new Rng(seed).uint32());
  assert.is(new Set(firsts).size, firsts.length);
  assert.throws(() => new Rng(1.5), /safe integer/);
});

test('a state saved mid-stream, through JSON, continues identically (cached normal included)', () => {
  const rng = new Rng(7);
  draws(13, () => rng.float());
  rng.normal(); // leaves the pair's second value cached
  const saved: RngState = JSON.parse(JSON.stringify(rng.state()));
  assert.ok(saved.spareNormal !== null);
  const resumed = Rng.fromState(saved);
  const mixed = (r: Rng) => [r.normal(), r.normal(), r.uint32(), r.float(), r.int(-5, 5), r.normal()];
  for (let i = 0; i < 50; i++) assert.equal(mixed(resumed), mixed(rng));
});

test('fromState rejects states no generator can be in', () => {
  const bad: unknown[] = [
    { algorithm: 'pcg32', words: [1, 2, 3, 4], spareNormal: null },
    { algorithm: 'xoshiro128**', words: [0, 0, 0, 0], spareNormal: null },
    { algorithm: 'xoshiro128**', words: [1, 2, 3], spareNormal: null },
    { algorithm: 'xoshiro128**', words: [1, 2, 3, 2 ** 32], spareNormal: null },
    { algorithm: 'xoshiro128**', words: [1, 2, 3, 4], spareNormal: 'x' },
  ];
  for (const state of bad) {
    assert.throws(() => Rng.fromState(state as RngState), (err: Error) => err instanceof XpError && /invalid random generator state/.test(err.message));
  }
});

test('float is uniform in [0, 1)', () => {
  const rng = new Rng(1);
  const values = draws(100_000, () => rng.float());
  assert.ok(values.every((v) => v >= 0 && v < 1));
  const { mean, std } = moments(values);
  // Expected 0.5 and 1/sqrt(12) = 0.2887; the standard error of the mean is 0.0009.
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.2887) < 0.01, `std ${std}`);
  const tenths = new Array(10).fill(0);
  for (const v of values) tenths[Math.floor(v * 10)]++;
  assert.ok(tenths.every((n) => Math.abs(n - 10_000) < 600), `deciles ${tenths}`);
});

test('normal and fillNormal have mean 0 and std 1', () => {
  const rng = new Rng(2);
  const values = rng.fillNormal(new Float32Array(100_000));
  const { mean, std } = moments(values);
  // Standard errors: 0.003 for the mean, 0.0022 for the std.
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.02, `std ${std}`);
  const withinOneSigma = values.filter((v) => Math.abs(v) < 1).length / values.length;
  assert.ok(Math.abs(withinOneSigma - 0.6827) < 0.01, `P(|z|<1) = ${withinOneSigma}`);
});

test('int covers both bounds evenly and rejects bad ranges', () => {
  const rng = new Rng(3);
  const counts = new Map<number, number>();
  for (let i = 0; i < 10_000; i++) {
    const v = rng.int(3, 7);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  assert.equal([...counts.keys()].sort(), [3, 4, 5, 6, 7]);
  assert.ok([...counts.values()].every((n) => Math.abs(n - 2000) < 250), `counts ${[...counts.values()]}`);
  assert.is(rng.int(-2, -2), -2);
  const wide = draws(1000, () => rng.int(0, 2 ** 32 - 1));
  assert.ok(wide.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32));
  assert.throws(() => rng.int(5, 4), /lo <= hi/);
  assert.throws(() => rng.int(0, 0.5), /integers/);
  assert.throws(() => rng.int(0, 2 ** 32), /2\^32/);
});

test('shuffle permutes in place, deterministically, and moves things', () => {
  const order = (seed: number) => new Rng(seed).shuffle(Array.from({ length: 50 }, (_, i) => i));
  const shuffled = order(4);
  assert.equal([...shuffled].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assert.equal(order(4), shuffled);
  assert.not.equal(order(5), shuffled);
  const typed = Uint32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  assert.is(new Rng(4).shuffle(typed), typed);
});

test('fork: deterministic, independent per label, and leaves the parent alone', () => {
  const firstFive = (rng: Rng) => draws(5, () => rng.uint32());
  const parent = new Rng(9);
  const before = parent.state();
  assert.equal(firstFive(parent.fork('data')), firstFive(parent.fork('data')));
  assert.equal(parent.state(), before);

  const streams = ['data', 'noise', 1, '1'].map((label) => firstFive(parent.fork(label)).join());
  assert.is(new Set(streams).size, 4, 'labels data, noise, 1 and "1" give four streams');
  assert.not.equal(firstFive(parent.fork('data')), firstFive(parent));
  parent.uint32();
  assert.not.equal(firstFive(parent.fork('data')).join(), streams[0], 'a later parent state forks another stream');
});

test.run();
