/**
 * The seeded random number generator behind every random choice xp makes (data order,
 * timesteps, noise). tfjs has no global seed, so xp draws its own numbers and hands
 * them to tfjs as data. The generator is xoshiro128** (Blackman & Vigna), seeded through
 * SplitMix64 as its authors recommend; its whole state is four 32-bit words plus the
 * cached second Box–Muller value, so a checkpoint can resume the exact stream.
 */
import { XpError } from './errors.js';

export interface RngState {
  algorithm: 'xoshiro128**';
  words: [number, number, number, number];
  /** The second value of the last Box–Muller pair, not yet returned by normal(). */
  spareNormal: number | null;
}

const MASK64 = (1n << 64n) - 1n;
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;
const TWO_POW_32 = 2 ** 32;

export class Rng {
  private readonly words = new Uint32Array(4);
  private spareNormal: number | null = null;

  /** `seed` is any safe integer; distinct seeds give distinct streams. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`an Rng seed must be a safe integer, got ${seed}`);
    this.words.set(wordsFromSeed64(BigInt(seed) & MASK64));
  }

  static fromState(state: RngState): Rng {
    const problem = rngStateProblem(state);
    if (problem) throw new XpError(`invalid random generator state: ${problem}`);
    const rng = new Rng(0);
    rng.words.set(state.words);
    rng.spareNormal = state.spareNormal;
    return rng;
  }

  /** A plain JSON-serializable snapshot; `Rng.fromState` continues the stream exactly. */
  state(): RngState {
    const [a, b, c, d] = this.words;
    return { algorithm: 'xoshiro128**', words: [a, b, c, d], spareNormal: this.spareNormal };
  }

  /**
   * An independent stream derived from this generator's current state and `label`, so
   * that e.g. data order and noise do not shift when the other draws more numbers.
   * Does not advance this generator: forking twice with one label gives the same stream.
   */
  fork(label: string | number): Rng {
    const [a, b, c, d] = this.words;
    const parent = mix64(join64(a, b)) ^ join64(c, d);
    const child = new Rng(0);
    child.words.set(wordsFromSeed64(parent ^ fnv1a64(`${typeof label}:${label}`)));
    return child;
  }

  uint32(): number {
    const s = this.words;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (two draws), so every double step is reachable. */
  float(): number {
    return ((this.uint32() >>> 5) * 2 ** 26 + (this.uint32() >>> 6)) / 2 ** 53;
  }

  /** Uniform integer in [lo, hi], both inclusive, without modulo bias; hi - lo < 2^32. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo > hi || hi - lo >= TWO_POW_32) {
      throw new RangeError(`Rng.int needs integers lo <= hi with hi - lo < 2^32, got ${lo}, ${hi}`);
    }
    const span = hi - lo + 1;
    // Draws at or above the largest multiple of span would favour the low residues.
    const limit = TWO_POW_32 - (TWO_POW_32 % span);
    let draw = this.uint32();
    while (draw >= limit) draw = this.uint32();
    return lo + (draw % span);
  }

  /** Standard normal (Box–Muller); the pair's second value is kept for the next call. */
  normal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal;
      this.spareNormal = null;
      return spare;
    }
    // 1 - float() lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.float()));
    const angle = 2 * Math.PI * this.float();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  fillNormal(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
    return out;
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<A extends { length: number; [index: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const held = array[i];
      array[i] = array[j];
      array[j] = held;
    }
    return array;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** SplitMix64's output function: a bijection on 64-bit integers. */
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/**
 * The first two SplitMix64 outputs from `seed`. They come from different inputs of a
 * bijection, so at most one is zero: the all-zero state xoshiro cannot leave never occurs.
 */
function wordsFromSeed64(seed: bigint): number[] {
  const first = mix64((seed + GOLDEN_GAMMA) & MASK64);
  const second = mix64((seed + 2n * GOLDEN_GAMMA) & MASK64);
  return [first, second].flatMap((z) => [Number(z & 0xffffffffn), Number(z >> 32n)]);
}

function join64(low: number, high: number): bigint {
  return (BigInt(high) << 32n) | BigInt(low);
}

function fnv1a64(text: string): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & MASK64;
  }
  return hash;
}

function rngStateProblem(state: RngState): string | null {
  if (state?.algorithm !== 'xoshiro128**') return `unknown algorithm ${JSON.stringify(state?.algorithm)}`;
  const { words, spareNormal } = state;
  if (!Array.isArray(words) || words.length !== 4 || !words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)) {
    return 'words must be four unsigned 32-bit integers';
  }
  if (words.every((w) => w === 0)) return 'words are all zero, a state xoshiro128** never reaches';
  if (spareNormal !== null && !Number.isFinite(spareNormal)) return 'spareNormal must be a finite number or null';
  return null;
}
