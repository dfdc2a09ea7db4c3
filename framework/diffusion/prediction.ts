/**
 * What a denoiser's output means, and how to get from one meaning to another. With
 * x_t = α·x_0 + σ·ε (α = √ᾱ_t, σ = √(1 − ᾱ_t)), a network may predict ε (Ho et al. 2020, the
 * paper), x_0, or v = α·ε − σ·x_0 (Salimans & Ho 2022, "Progressive distillation"). Training
 * regresses the chosen target; every sampler asks for ε and gets it through `noiseFrom`, so the
 * choice is carried through training and sampling alike.
 */
import * as tf from '@tensorflow/tfjs';

export const PREDICTIONS = ['epsilon', 'v', 'x0'] as const;
export type Prediction = (typeof PREDICTIONS)[number];

/** α and σ at each example's timestep: numbers, or [n, 1, 1, 1] tensors. */
export interface Scales<T = number | tf.Tensor> {
  alpha: T;
  sigma: T;
}

/** The regression target of a prediction for clean images x_0 noised with ε. Call inside tf.tidy. */
export function targetOf(prediction: Prediction, x0: tf.Tensor, noise: tf.Tensor, { alpha, sigma }: Scales): tf.Tensor {
  if (prediction === 'epsilon') return noise;
  if (prediction === 'x0') return x0;
  return tf.sub(tf.mul(alpha, noise), tf.mul(sigma, x0));
}

/** The ε that a model output of kind `prediction` at x_t implies. Call inside tf.tidy. */
export function noiseFrom(prediction: Prediction, output: tf.Tensor4D, xt: tf.Tensor4D, { alpha, sigma }: Scales): tf.Tensor4D {
  if (prediction === 'epsilon') return output;
  if (prediction === 'x0') return tf.div(tf.sub(xt, tf.mul(alpha, output)), sigma) as tf.Tensor4D;
  return tf.add(tf.mul(alpha, output), tf.mul(sigma, xt)) as tf.Tensor4D;
}

/**
 * The min-SNR-γ weight of each example's loss (Hang et al. 2023, "Efficient Diffusion Training
 * via Min-SNR Weighting Strategy"): min(SNR, γ) relative to what the target's loss already
 * weighs SNR by, so every prediction gets the same effective weighting of x_0's error.
 * SNR = α²/σ².
 */
export function minSnrWeight(prediction: Prediction, snr: number, gamma: number): number {
  const clipped = Math.min(snr, gamma);
  if (prediction === 'epsilon') return clipped / snr;
  if (prediction === 'v') return clipped / (snr + 1);
  return clipped;
}
