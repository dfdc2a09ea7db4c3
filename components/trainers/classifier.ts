import * as tf from '@tensorflow/tfjs';
import { inject } from 'inversify';
import { trainer, Type, type Static } from '../../framework/registry/index.js';
import { TOKENS } from '../../framework/container/tokens.js';
import type {
  Classifier,
  Dataset,
  DatasetLabels,
  FitResult,
  OptimizerFactory,
  RunHandle,
  Trainer,
} from '../../framework/interfaces.js';
import type { ConfigMap } from '../../framework/config/load.js';
import type { ComponentConfig } from '../../framework/registry/params.js';
import type { CheckpointData } from '../../framework/run/checkpoint.js';
import type { LabeledImageSet } from '../../framework/data/batches.js';
import { accuracy, classifyImages } from '../../framework/eval/classify.js';
import { Progress } from '../../framework/training/progress.js';
import { EmaWeights } from '../../framework/training/ema-weights.js';
import { ModelWeightSets } from '../../framework/training/weight-sets.js';
import {
  captureTrainState,
  putVariables,
  restoreTrainState,
  takeVariables,
  type TrainParts,
} from '../../framework/training/train-state.js';
import { Rng } from '../../framework/rng.js';
import { XpError } from '../../framework/errors.js';

const Params = Type.Object(
  {
    epochs: Type.Integer({ minimum: 1, default: 1, description: 'Passes over the dataset' }),
    max_steps: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Step budget: stop after this many optimizer steps, even mid-epoch' }),
    ),
    average: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.999,
      description:
        'Decay β of a moving average of the weights (min(β, (1 + step)/(10 + step)) per step), which test accuracy ' +
        "measures and which replaces the weights at the end: it smooths out Adam's last noisy steps; 0: none",
    }),
    loss_tag: Type.String({ default: 'Training/CrossEntropy', description: 'TensorBoard tag of the training loss' }),
    accuracy_tag: Type.String({
      default: 'Test/Accuracy',
      description: 'TensorBoard tag of the accuracy on the MNIST test split, measured after every epoch and at the end',
    }),
  },
  { additionalProperties: false },
);

type Params = Static<typeof Params>;

/** The weight set (and checkpoint prefix) of the moving average. */
const AVERAGE = 'average';

/**
 * Supervised training of a classifier on a labelled dataset with softmax cross-entropy; the
 * accuracy on the dataset's test set is recorded after every epoch. One thread (the model is small).
 */
@trainer('classifier', {
  description: 'Trains a classifier (e.g. MnistClassifier) on labelled MNIST with cross-entropy; records test accuracy',
  params: Params,
})
export class ClassifierTrainer implements Trainer {
  private readonly labels: DatasetLabels;

  constructor(
    @inject(TOKENS.Params) private readonly params: Params,
    @inject(TOKENS.Model) private readonly model: Classifier,
    @inject(TOKENS.Dataset) private readonly dataset: Dataset,
    @inject(TOKENS.Optimizer) private readonly optimizerFactory: OptimizerFactory,
    @inject(TOKENS.Seed) private readonly seed: number,
    @inject(TOKENS.Experiment) experiment: ConfigMap,
  ) {
    this.labels = checkedLabels(dataset, model, (experiment.dataset as ComponentConfig).type);
  }

  async fit(run: RunHandle): Promise<FitResult> {
    const test = this.labels.testSet();
    const batches = this.dataset.batches(new Rng(this.seed).fork('data'));
    const perEpoch = batches.batchesPerEpoch;
    const totalSteps = Math.min(this.params.max_steps ?? Infinity, this.params.epochs * perEpoch);
    const epochs = Math.ceil(totalSteps / perEpoch);
    const optimizer = this.optimizerFactory.create();
    const average = new EmaWeights(this.model.variables());
    const weights = new ModelWeightSets(this.model.variables());
    weights.register(AVERAGE, average.shadow);
    const parts: TrainParts = { variables: this.model.variables(), optimizer, batches };
    let step = run.resumeFrom ? await restore(run.resumeFrom, parts, average) : 0;
    const progress = run.quiet ? undefined : new Progress(totalSteps, step);
    let lastLoss: number | undefined;
    let epochStart = performance.now();
    let epochImages = 0;
    try {
      while (step < totalSteps && !run.stopRequested()) {
        // The step itself is synchronous: yield so a Ctrl-C's stop request gets through.
        await new Promise((resolve) => setImmediate(resolve));
        const batch = batches.nextBatch();
        const x = batches.toTensor(batch);
        // The constructor checked that the dataset has labels, so its batches carry them.
        const labels = this.oneHot(batch.labels!);
        lastLoss = this.optimize(optimizer, x, labels);
        tf.dispose([x, labels]);
        average.update(this.model.variables(), Math.min(this.params.average, (1 + step) / (10 + step)));
        step += 1;
        epochImages += batch.size;
        if (!Number.isFinite(lastLoss)) throw new XpError(`the loss became ${lastLoss} at step ${step}; stopped`);
        run.record.scalar(this.params.loss_tag, lastLoss, step);
        const seconds = (performance.now() - epochStart) / 1000;
        progress?.update({ step, totalSteps, epoch: batch.epoch, epochs, loss: lastLoss, imagesPerSecond: epochImages / seconds });
        if (batch.index === perEpoch - 1 || step === totalSteps) {
          const testAccuracy = weights.use(AVERAGE, () => this.accuracyOn(test));
          run.record.scalar(this.params.accuracy_tag, testAccuracy, step);
          progress?.log(
            `epoch ${batch.epoch + 1}/${epochs}  step ${step}/${totalSteps}  loss ${lastLoss.toFixed(4)}  ` +
              `test accuracy ${(100 * testAccuracy).toFixed(2)}%  ${(epochImages / seconds).toFixed(0)} img/s  ${seconds.toFixed(1)} s`,
          );
          [epochStart, epochImages] = [performance.now(), 0];
        }
      }
      const status = step < totalSteps ? 'interrupted' : 'completed';
      // A finished run is its averaged weights; an interrupted one keeps both to continue.
      if (status === 'completed') for (const [name, v] of this.model.variables()) v.assign(average.shadow.get(name)!);
      await run.checkpoints?.save(step, await capture(parts, average), { keepLast: 1 });
      return { status, steps: step, epochs: Math.ceil(step / perEpoch), lastLoss };
    } finally {
      progress?.stop();
      optimizer.dispose();
      average.dispose();
    }
  }

  /** The share of a labelled set the model classifies right. */
  private accuracyOn(set: LabeledImageSet): number {
    return accuracy(classifyImages(this.model, set.images, set.height, set.width), set.labels);
  }

  /** Labels as the one-hot rows softmax cross-entropy takes. */
  private oneHot(labels: Int32Array): tf.Tensor2D {
    return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), this.model.classes).toFloat() as tf.Tensor2D);
  }

  /** One optimizer step on the batch's mean cross-entropy; returns the loss. */
  private optimize(optimizer: tf.Optimizer, x: tf.Tensor4D, labels: tf.Tensor2D): number {
    const variables = [...this.model.variables().values()];
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(labels, this.model.forward(x).logits) as tf.Scalar,
      variables,
    );
    optimizer.applyGradients(grads);
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  }
}

/**
 * The dataset's labels, once the dataset is one this trainer can learn from: labelled, with
 * images in [-1, 1] (as xp eval feeds the classifier), and no more classes than the model has.
 */
function checkedLabels(dataset: Dataset, model: Classifier, type: string): DatasetLabels {
  const { labels, normalize } = dataset;
  if (!labels) throw new XpError(`dataset.type: the classifier trainer needs a dataset with labels; '${type}' has none`);
  if (normalize !== 'minus-one-one') {
    throw new XpError(
      `dataset.normalize: the classifier trainer needs 'minus-one-one' (xp eval feeds it images in [-1, 1]), got '${normalize}'`,
    );
  }
  if (model.classes < labels.classes) {
    throw new XpError(`model: its ${model.classes} classes are fewer than the ${labels.classes} of dataset '${type}'`);
  }
  return labels;
}

/** The state every trainer keeps, and the moving average of the weights. */
async function capture(parts: TrainParts, average: EmaWeights): Promise<CheckpointData> {
  const data = await captureTrainState(parts);
  putVariables(data.tensors, AVERAGE, average.shadow);
  return data;
}

/** Puts a checkpoint back; returns its step. */
async function restore(data: CheckpointData, parts: TrainParts, average: EmaWeights): Promise<number> {
  takeVariables(data.tensors, AVERAGE, average.shadow);
  return restoreTrainState(data, parts);
}
