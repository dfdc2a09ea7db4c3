/**
 * SIMD versions of fused-kernels.ts's loops, in AssemblyScript, for the wasm backend: they run
 * inside tfjs-backend-wasm's own memory (imported), on its tensors' byte offsets, 4 lanes at a
 * time. Compiled by `npm run build:simd` (scripts/build-simd.mjs) to kernels.wasm.
 *
 * Nothing here allocates or keeps static data, so instantiating the module writes nothing into
 * tfjs's heap. The callers (framework/kernels/simd/index.ts) pass only shapes these loops handle: a
 * length of at least 4 for the elementwise kernels (the last vector overlaps the one before),
 * a channel count divisible by 4 for the normalization.
 */

// ---- exp and the normal distribution, 4 lanes ----

const LOG2E: f32 = 1.4426950408889634;
// ln 2 split in two (Cody-Waite) so that k·ln2 is subtracted without rounding for |k| < 2^9.
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187e-6;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
const SQRT1_2: f32 = 0.7071067811865476;

/** 1.5·2^23: adding it rounds a float32 below 2^22 in magnitude to an integer, held in the low mantissa bits. */
const ROUNDER: f32 = 12582912;
const ROUNDER_BITS: i32 = 0x4b400000;

/**
 * e^y for y <= 0 (what the normal distribution needs): y = k·ln2 + r with |r| <= ln2/2, e^r by
 * its Taylor series to r^7 (relative error < 2e-8 before rounding), 2^k built in the exponent
 * bits. Below −87 the result is flushed to 0 (float32's smallest normal is e^−87.3). k is
 * rounded by adding ROUNDER, whose sum's low bits are k: cheaper in V8 than nearest plus a
 * float-to-int conversion.
 */
// @ts-ignore: decorator
@inline
function expNonPositive(y: v128): v128 {
  const tiny = f32x4.lt(y, f32x4.splat(-87));
  const rounded = f32x4.add(f32x4.mul(y, f32x4.splat(LOG2E)), f32x4.splat(ROUNDER));
  const k = f32x4.sub(rounded, f32x4.splat(ROUNDER));
  const r = f32x4.sub(f32x4.sub(y, f32x4.mul(k, f32x4.splat(LN2_HI))), f32x4.mul(k, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.0 / 5040);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 720));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(rounded, i32x4.splat(127 - ROUNDER_BITS)), 23);
  return v128.andnot(f32x4.mul(p, scale), tiny);
}

/** φ(x) = e^(−x²/2)/√(2π). */
// @ts-ignore: decorator
@inline
function density(x: v128): v128 {
  return f32x4.mul(expNonPositive(f32x4.mul(f32x4.mul(x, x), f32x4.splat(-0.5))), f32x4.splat(INV_SQRT_2PI));
}

/**
 * Φ(x) from erfc(|x|/√2) by Abramowitz and Stegun 7.1.26 (absolute error of erf below 1.5e-7,
 * so of Φ below 7.5e-8), mirrored for x > 0: the small tail is computed directly, never as
 * 1 − (a number near 1).
 */
// @ts-ignore: decorator
@inline
function cdf(x: v128): v128 {
  const z = f32x4.mul(f32x4.abs(x), f32x4.splat(SQRT1_2));
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(z, f32x4.splat(0.3275911))));
  let p = f32x4.splat(1.061405429);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.453152027));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.421413741));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.284496736));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.254829592));
  const halfErfc = f32x4.mul(f32x4.mul(f32x4.mul(p, t), expNonPositive(f32x4.neg(f32x4.mul(z, z)))), f32x4.splat(0.5));
  return v128.bitselect(f32x4.sub(f32x4.splat(1), halfErfc), halfErfc, f32x4.gt(x, f32x4.splat(0)));
}

// ---- GELU ----

/** out = x·Φ(x) over n >= 4 values. */
export function gelu(x: usize, out: usize, n: i32): void {
  const bytes = <usize>n << 2;
  for (let i: usize = 0; i < bytes; i = min(i + 16, bytes - 16)) {
    const v = v128.load(x + i);
    v128.store(out + i, f32x4.mul(v, cdf(v)));
    if (i == bytes - 16) break;
  }
}

/** dx = dy·(Φ(x) + x·φ(x)) over n >= 4 values. */
export function geluGrad(x: usize, dy: usize, dx: usize, n: i32): void {
  const bytes = <usize>n << 2;
  for (let i: usize = 0; i < bytes; i = min(i + 16, bytes - 16)) {
    const v = v128.load(x + i);
    const slope = f32x4.add(cdf(v), f32x4.mul(v, density(v)));
    v128.store(dx + i, f32x4.mul(v128.load(dy + i), slope));
    if (i == bytes - 16) break;
  }
}

// ---- normalization over groups, gamma and beta per channel (channels divisible by 4) ----

/** The sum of a float64x2's two lanes. */
// @ts-ignore: decorator
@inline
function lanesSum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** The sum of a float32x4's four lanes. */
// @ts-ignore: decorator
@inline
function lanesSum4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * y = (x − mean)/√(var + ε)·gamma + beta for each group of `groupSize` values; `statistics`
 * gets each group's mean and 1/σ. The statistics are one pass of sums of x − K and (x − K)² in
 * float64, K = the group's first value, as fused-kernels.ts computes them.
 */
export function normalize(
  x: usize, gamma: usize, beta: usize, out: usize, statistics: usize,
  n: i32, groupSize: i32, channels: i32, epsilon: f64,
): void {
  const groupBytes = <usize>groupSize << 2;
  const channelBytes = <usize>channels << 2;
  for (let start: usize = 0, group: usize = 0; start < (<usize>n << 2); start += groupBytes, group++) {
    const shift = f64(load<f32>(x + start));
    const shiftLanes = f64x2.splat(shift);
    let sum = f64x2.splat(0);
    let squares = f64x2.splat(0);
    for (let i = start; i < start + groupBytes; i += 16) {
      const v = v128.load(x + i);
      const low = f64x2.sub(f64x2.promote_low_f32x4(v), shiftLanes);
      const high = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), shiftLanes);
      sum = f64x2.add(sum, f64x2.add(low, high));
      squares = f64x2.add(squares, f64x2.add(f64x2.mul(low, low), f64x2.mul(high, high)));
    }
    const centered = lanesSum(sum) / f64(groupSize);
    const mean = shift + centered;
    const invStd = 1 / Math.sqrt(Math.max(0, lanesSum(squares) / f64(groupSize) - centered * centered) + epsilon);
    store<f32>(statistics + (group << 3), f32(mean));
    store<f32>(statistics + (group << 3) + 4, f32(invStd));
    const meanLanes = f32x4.splat(f32(mean));
    const invStdLanes = f32x4.splat(f32(invStd));
    for (let position = start; position < start + groupBytes; position += channelBytes) {
      for (let c: usize = 0; c < channelBytes; c += 16) {
        const normalized = f32x4.mul(f32x4.sub(v128.load(x + position + c), meanLanes), invStdLanes);
        v128.store(out + position + c, f32x4.add(f32x4.mul(normalized, v128.load(gamma + c)), v128.load(beta + c)));
      }
    }
  }
}

/**
 * With x̂ the normalized x and g = dy·gamma: dx = (g − mean(g) − x̂·mean(g·x̂))/σ per group;
 * dgamma = Σ dy·x̂ and dbeta = Σ dy per channel.
 */
export function normalizeGrad(
  x: usize, gamma: usize, dy: usize, statistics: usize, dx: usize, dGamma: usize, dBeta: usize,
  n: i32, groupSize: i32, channels: i32,
): void {
  const groupBytes = <usize>groupSize << 2;
  const channelBytes = <usize>channels << 2;
  memory.fill(dGamma, 0, channelBytes);
  memory.fill(dBeta, 0, channelBytes);
  for (let start: usize = 0, group: usize = 0; start < (<usize>n << 2); start += groupBytes, group++) {
    const meanLanes = f32x4.splat(load<f32>(statistics + (group << 3)));
    const invStd = load<f32>(statistics + (group << 3) + 4);
    const invStdLanes = f32x4.splat(invStd);
    let gSum = f32x4.splat(0);
    let gDotNormalized = f32x4.splat(0);
    for (let position = start; position < start + groupBytes; position += channelBytes) {
      for (let c: usize = 0; c < channelBytes; c += 16) {
        const normalized = f32x4.mul(f32x4.sub(v128.load(x + position + c), meanLanes), invStdLanes);
        const d = v128.load(dy + position + c);
        const g = f32x4.mul(d, v128.load(gamma + c));
        gSum = f32x4.add(gSum, g);
        gDotNormalized = f32x4.add(gDotNormalized, f32x4.mul(g, normalized));
        v128.store(dGamma + c, f32x4.add(v128.load(dGamma + c), f32x4.mul(d, normalized)));
        v128.store(dBeta + c, f32x4.add(v128.load(dBeta + c), d));
      }
    }
    const gMean = f32x4.splat(lanesSum4(gSum) / f32(groupSize));
    const projection = f32x4.splat(lanesSum4(gDotNormalized) / f32(groupSize));
    for (let position = start; position < start + groupBytes; position += channelBytes) {
      for (let c: usize = 0; c < channelBytes; c += 16) {
        const normalized = f32x4.mul(f32x4.sub(v128.load(x + position + c), meanLanes), invStdLanes);
        const g = f32x4.mul(v128.load(dy + position + c), v128.load(gamma + c));
        const centered = f32x4.sub(f32x4.sub(g, gMean), f32x4.mul(normalized, projection));
        v128.store(dx + position + c, f32x4.mul(centered, invStdLanes));
      }
    }
  }
}

// ---- optimizer and weight averages (elementwise, n >= 4) ----

/**
 * One Adam update: m' = β1·m + (1 − β1)·g, v' = β2·v + (1 − β2)·g², value' = value −
 * lr·(m'/c1)/(√(v'/c2) + ε), with c1, c2 the bias corrections.
 */
export function adam(
  value: usize, m: usize, v: usize, g: usize, newValue: usize, newM: usize, newV: usize, n: i32,
  learningRate: f32, beta1: f32, beta2: f32, epsilon: f32, correction1: f32, correction2: f32,
): void {
  const bytes = <usize>n << 2;
  const b1 = f32x4.splat(beta1);
  const b2 = f32x4.splat(beta2);
  const eps = f32x4.splat(epsilon);
  const rest1 = f32x4.splat(1 - beta1);
  const rest2 = f32x4.splat(1 - beta2);
  const step = f32x4.splat(learningRate / correction1);
  const inverseCorrection2 = f32x4.splat(1 / correction2);
  for (let i: usize = 0; i < bytes; i = min(i + 16, bytes - 16)) {
    const gradient = v128.load(g + i);
    const first = f32x4.add(f32x4.mul(b1, v128.load(m + i)), f32x4.mul(rest1, gradient));
    const second = f32x4.add(f32x4.mul(b2, v128.load(v + i)), f32x4.mul(rest2, f32x4.mul(gradient, gradient)));
    v128.store(newM + i, first);
    v128.store(newV + i, second);
    const denominator = f32x4.add(f32x4.sqrt(f32x4.mul(second, inverseCorrection2)), eps);
    v128.store(newValue + i, f32x4.sub(v128.load(value + i), f32x4.div(f32x4.mul(step, first), denominator)));
    if (i == bytes - 16) break;
  }
}

/** out = β·average + (1 − β)·value. */
export function movingAverage(average: usize, value: usize, out: usize, n: i32, beta: f32): void {
  const bytes = <usize>n << 2;
  const keep = f32x4.splat(beta);
  const take = f32x4.splat(1 - beta);
  for (let i: usize = 0; i < bytes; i = min(i + 16, bytes - 16)) {
    v128.store(out + i, f32x4.add(f32x4.mul(keep, v128.load(average + i)), f32x4.mul(take, v128.load(value + i))));
    if (i == bytes - 16) break;
  }
}

// ---- products of many small matrices ----

/**
 * out[i] = a[i]·b[i] for `batch` products of an m×k by a k×n matrix, all row-major; a stride of
 * 0 (in values) reuses one matrix for every product (a broadcast batch). Four output columns
 * at a time, the last n mod 4 one by one.
 */
export function batchMatMul(a: usize, b: usize, out: usize, batch: i32, m: i32, k: i32, n: i32, strideA: i32, strideB: i32): void {
  const rowBytes = <usize>n << 2;
  const vectorEnd = <usize>(n & ~3) << 2;
  for (let product = 0; product < batch; product++) {
    const left = a + ((<usize>product * <usize>strideA) << 2);
    const right = b + ((<usize>product * <usize>strideB) << 2);
    const result = out + (<usize>product * <usize>m * rowBytes);
    for (let i = 0; i < m; i++) {
      const row = left + ((<usize>i * <usize>k) << 2);
      const target = result + <usize>i * rowBytes;
      for (let j: usize = 0; j < vectorEnd; j += 16) {
        let sum = f32x4.splat(0);
        for (let p = 0; p < k; p++) {
          sum = f32x4.add(sum, f32x4.mul(f32x4.splat(load<f32>(row + (<usize>p << 2))), v128.load(right + <usize>p * rowBytes + j)));
        }
        v128.store(target + j, sum);
      }
      for (let j = vectorEnd; j < rowBytes; j += 4) {
        let sum: f32 = 0;
        for (let p = 0; p < k; p++) sum += load<f32>(row + (<usize>p << 2)) * load<f32>(right + <usize>p * rowBytes + j);
        store<f32>(target + j, sum);
      }
    }
  }
}
