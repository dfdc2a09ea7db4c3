import { BuildError, Conv2d, inject, Linear, model, tf, TOKENS, Type } from '../../index.js';
import type { Classifier, ClassifierOutput, ParamStore, Shape3, Static, SummaryRow } from '../../index.js';

const Params = Type.Object(
  {
    channels: Type.Array(Type.Integer({ minimum: 1 }), {
      minItems: 1,
      default: [16, 32],
      description: 'Output channels of each stage: conv (same padding), 2×2 max-pool, ReLU',
    }),
    kernel: Type.Integer({ minimum: 1, default: 3, description: 'Kernel size of the convolutions (odd keeps the shape)' }),
    features: Type.Integer({
      minimum: 1,
      default: 128,
      description: 'Width of the penultimate dense layer (after ReLU): the features xp eval computes FID on',
    }),
    classes: Type.Integer({ minimum: 2, default: 10, description: 'Number of classes' }),
  },
  { additionalProperties: false },
);

type Params = Static<typeof Params>;

/** One conv → max-pool → ReLU stage, with the shapes it maps between. */
interface Stage {
  conv: Conv2d;
  inShape: Shape3;
  outShape: Shape3;
}

@model('MnistClassifier', {
  description:
    'A LeNet-style digit classifier: conv stages (conv, 2×2 max-pool, ReLU), a dense ReLU layer (the features ' +
    'FID is computed on) and a dense layer of class scores. Takes images in [-1, 1].',
  params: Params,
})
export class MnistClassifier implements Classifier {
  readonly classes: number;
  readonly featureDim: number;
  private readonly stages: Stage[];
  private readonly hidden: Linear;
  private readonly output: Linear;

  constructor(
    @inject(TOKENS.Params) params: Params,
    @inject(TOKENS.Path) path: string,
    @inject(TOKENS.ImageShape) imageShape: Shape3,
    @inject(TOKENS.ParamStore) private readonly store: ParamStore,
  ) {
    this.classes = params.classes;
    this.featureDim = params.features;
    this.stages = buildStages(params, imageShape, store, path);
    const [h, w, c] = this.stages[this.stages.length - 1].outShape;
    this.hidden = new Linear(store.scope('hidden'), h * w * c, params.features);
    this.output = new Linear(store.scope('out'), params.features, params.classes);
  }

  forward(x: tf.Tensor4D): ClassifierOutput {
    return tf.tidy(() => {
      let y = x;
      // Pooling before the ReLU is the same function (ReLU is monotonic) on a quarter of the values.
      for (const { conv } of this.stages) y = tf.relu(tf.maxPool(conv.forward(y), 2, 2, 'valid'));
      const flat = tf.reshape(y, [y.shape[0], -1]) as tf.Tensor2D;
      const features = tf.relu(this.hidden.forward(flat));
      return { logits: this.output.forward(features), features };
    });
  }

  variables(): Map<string, tf.Variable> {
    return this.store.variables();
  }

  summary(): SummaryRow[] {
    const rows = this.stages.map(({ conv, inShape, outShape }, i) => ({
      stage: `conv${i + 1}`,
      block: 'conv+maxpool+relu',
      outShape,
      params: this.store.scope(`stages.${i}`).count(),
      flops: conv.flops(inShape),
    }));
    const [h, w, c] = this.stages[this.stages.length - 1].outShape;
    const dense = (stage: string, layer: Linear, inFeatures: number): SummaryRow => ({
      stage,
      block: 'dense',
      outShape: [1, 1, layer.outFeatures],
      params: this.store.scope(stage).count(),
      flops: layer.flops([inFeatures]),
    });
    return [...rows, dense('hidden', this.hidden, h * w * c), dense('out', this.output, this.featureDim)];
  }

  dispose(): void {
    this.store.dispose();
  }
}

function buildStages(params: Params, imageShape: Shape3, store: ParamStore, path: string): Stage[] {
  let shape = imageShape;
  return params.channels.map((outChannels, i) => {
    const [h, w, inChannels] = shape;
    if (h < 2 || w < 2) {
      throw new BuildError(`${path}.channels`, `stage ${i + 1} gets a ${h}×${w} input, too small for a 2×2 max-pool; use fewer stages`);
    }
    const conv = new Conv2d(store.scope(`stages.${i}`), { inChannels, outChannels, kernelSize: params.kernel });
    const stage = { conv, inShape: shape, outShape: [Math.floor(h / 2), Math.floor(w / 2), outChannels] as Shape3 };
    shape = stage.outShape;
    return stage;
  });
}
