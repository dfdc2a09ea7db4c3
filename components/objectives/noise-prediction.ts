import { drawNoise, ForwardProcess, inject, objective, stringEnum, tf, TOKENS, Type } from '../../index.js';
import type { DataBatch, Denoiser, NoiseSchedule, Objective, PreparedBatch, Rng, Static } from '../../index.js';

const Params = Type.Object(
  {
    timesteps: stringEnum(['per-batch', 'per-example'] as const, {
      description: "'per-batch': one t shared by a batch (the paper); 'per-example': one t per image (Ho et al.)",
      default: 'per-batch',
    }),
    loss_tag: Type.String({ default: 'Training/MSE', description: 'TensorBoard tag of the training loss' }),
  },
  { additionalProperties: false },
);

type Params = Static<typeof Params>;

/**
 * The DDPM objective (Ho et al. 2020; the paper's): noise each image to a random timestep
 * and regress the noise, ‖ε − ε_θ(x_t, t)‖², averaged over every element.
 */
@objective('noise-prediction', {
  description: 'DDPM training: predict the noise added at a random timestep, mean squared error (the paper)',
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

  /** x_t, t and ε: timesteps uniform on 1..T−1, then the noise, both from `rng` in that order. */
  prepare({ x }: DataBatch, rng: Rng): PreparedBatch {
    this.forward ??= new ForwardProcess(this.schedule);
    const t = tf.tensor1d(this.forward.drawTimesteps(rng, x.shape[0], this.params.timesteps), 'int32');
    const noise = drawNoise(rng, x.shape);
    return { xt: this.forward.qSample(x, t, noise), t, noise };
  }

  loss({ xt, t, noise }: PreparedBatch): tf.Scalar {
    return tf.tidy(() => tf.mean(tf.squaredDifference(this.model.predict(xt as tf.Tensor4D, t as tf.Tensor1D), noise)));
  }

  dispose(): void {
    this.forward?.dispose();
    this.forward = undefined;
  }
}
