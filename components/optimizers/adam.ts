import { FusedAdamOptimizer, inject, optimizer, TOKENS, Type } from '../../index.js';
import type { OptimizerFactory, Static } from '../../index.js';
import type * as tf from '@tensorflow/tfjs';

const Params = Type.Object(
  {
    lr: Type.Number({ exclusiveMinimum: 0, default: 2e-4, description: 'Learning rate' }),
    beta1: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'Decay of the first-moment average' }),
    beta2: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.999, description: 'Decay of the second-moment average' }),
    epsilon: Type.Number({ exclusiveMinimum: 0, default: 1e-8, description: 'Added to the denominator for stability' }),
  },
  { additionalProperties: false },
);

@optimizer('adam', { description: 'Adam (Kingma & Ba 2014), as torch.optim.Adam', params: Params })
export class Adam implements OptimizerFactory {
  constructor(@inject(TOKENS.Params) private readonly params: Static<typeof Params>) {}

  create(): tf.Optimizer {
    const { lr, beta1, beta2, epsilon } = this.params;
    return new FusedAdamOptimizer(lr, beta1, beta2, epsilon);
  }
}
