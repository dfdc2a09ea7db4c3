import { drawNoise, ForwardProcess, inject, minSnrWeight, objective, stringEnum, targetOf, tf, TOKENS, Type } from '../../index.js';
import type { DataBatch, Denoiser, NoiseSchedule, Objective, PreparedBatch, Rng, Static } from '../../index.js';

const Params = Type.Object(
  {
    timesteps: stringEnum(['per-batch', 'per-example'] as const, {
      description: "'per-batch': one t shared by a batch (the paper); 'per-example': one t per image (Ho et al.)",
      default: 'per-batch',
    }),
    min_snr_gamma: Type.Number({
      minimum: 0,
      default: 0,
      description:
        "Min-SNR-γ loss weighting (Hang et al. 2023): each example's loss weighted by min(SNR, γ) relative to its " +
        "target's own SNR weighting, so easy low-noise steps stop dominating; 5 is the paper's choice; 0: off (plain MSE)",
    }),
    loss_tag: Type.String({ default: 'Training/MSE', description: 'TensorBoard tag of the training loss' }),
  },
  { additionalProperties: false },
);

type Params = Static<typeof Params>;

/**
 * The DDPM objective (Ho et al. 2020; the paper's): noise each image to a random timestep and
 * regress what the model predicts (the noise ε by default; x_0 or v where the model says so),
 * mean squared error over every element, optionally min-SNR-γ weighted per example.
 */
@objective('noise-prediction', {
  description: "DDPM training: regress the model's prediction (ε, x0 or v) at a random timestep, mean squared error (the paper)",
  params: Params,
  needs: ['schedule'],
})
export class NoisePrediction implements Objective {
  readonly lossTag: string;
  private forward?: ForwardProcess;

  constructor(
    @inject(TOKENS.Params) private readonly params: Params,
    @inject(TOKENS.Model) private readonly model: Denoiser,
    @inject(TOKENS.Schedule) private readonly schedule: NoiseSchedule,
  ) {
    this.lossTag = params.loss_tag;
  }

  /**
   * x_t, t and the target: timesteps uniform on 1..T−1, then the noise, both from `rng` in that
   * order; with min-SNR-γ, each example's weight too.
   */
  prepare({ x }: DataBatch, rng: Rng): PreparedBatch {
    const forward = (this.forward ??= new ForwardProcess(this.schedule));
    const steps = forward.drawTimesteps(rng, x.shape[0], this.params.timesteps);
    const t = tf.tensor1d(steps, 'int32');
    const noise = drawNoise(rng, x.shape);
    const xt = forward.qSample(x, t, noise);
    const prediction = this.model.prediction ?? 'epsilon';
    if (prediction === 'epsilon' && !this.params.min_snr_gamma) return { xt, t, target: noise };
    const target = tf.tidy(() => targetOf(prediction, x, noise, forward.scales(t)));
    if (target !== noise) noise.dispose();
    if (!this.params.min_snr_gamma) return { xt, t, target };
    return { xt, t, target, weight: tf.tensor1d(this.weights(steps)) };
  }

  /** The mean squared error over every element; with weights, the weighted mean of each example's. */
  loss({ xt, t, target, weight }: PreparedBatch): tf.Scalar {
    return tf.tidy(() => {
      const squared = tf.squaredDifference(this.model.predict(xt as tf.Tensor4D, t as tf.Tensor1D), target);
      if (!weight) return tf.mean(squared);
      return tf.mean(tf.mul(tf.mean(squared, [1, 2, 3]), weight));
    });
  }

  dispose(): void {
    this.forward?.dispose();
    this.forward = undefined;
  }

  private weights(steps: Int32Array): Float32Array {
    const prediction = this.model.prediction ?? 'epsilon';
    return Float32Array.from(steps, (step) => {
      const alphaBar = this.schedule.alphaBars[step];
      return minSnrWeight(prediction, alphaBar / (1 - alphaBar), this.params.min_snr_gamma);
    });
  }
}
