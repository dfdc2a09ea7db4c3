import { BuildError, inject, objective, tf, TOKENS, Type } from '../../index.js';
import type { Classifier, DataBatch, Dataset, Objective, PreparedBatch, Static } from '../../index.js';

const Params = Type.Object(
  {
    loss_tag: Type.String({ default: 'Training/CrossEntropy', description: 'TensorBoard tag of the training loss' }),
  },
  { additionalProperties: false },
);

/** Supervised classification: softmax cross-entropy of the model's logits against the batch's labels. */
@objective('cross-entropy', {
  description: 'Trains a classifier (e.g. MnistClassifier) on a labelled dataset with softmax cross-entropy',
  params: Params,
})
export class CrossEntropy implements Objective {
  readonly lossTag: string;

  constructor(
    @inject(TOKENS.Params) params: Static<typeof Params>,
    @inject(TOKENS.Model) private readonly model: Classifier,
    @inject(TOKENS.Dataset) dataset: Dataset,
  ) {
    this.lossTag = params.loss_tag;
    requireLearnable(dataset, model);
  }

  /** The images as they are, the labels as the one-hot rows softmax cross-entropy takes. */
  prepare({ x, labels }: DataBatch): PreparedBatch {
    // requireLearnable checked that the dataset has labels, so its batches carry them.
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels!, 'int32'), this.model.classes).toFloat());
    return { x, labels: oneHot };
  }

  loss({ x, labels }: PreparedBatch): tf.Scalar {
    return tf.tidy(() => tf.losses.softmaxCrossEntropy(labels, this.model.forward(x as tf.Tensor4D).logits) as tf.Scalar);
  }
}

/**
 * A dataset this objective can learn from: labelled, with images in [-1, 1] (as xp eval feeds
 * the classifier), and no more classes than the model has.
 */
function requireLearnable({ labels, normalize }: Dataset, model: Classifier): void {
  if (!labels) throw new BuildError('dataset.type', 'the cross-entropy objective needs a dataset with labels; this one has none');
  if (normalize !== 'minus-one-one') {
    throw new BuildError('dataset.normalize', `the classifier needs 'minus-one-one' (xp eval feeds it images in [-1, 1]), got '${normalize}'`);
  }
  if (model.classes < labels.classes) {
    throw new BuildError('model', `its ${model.classes} classes are fewer than the dataset's ${labels.classes}`);
  }
}
