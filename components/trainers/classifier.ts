import * as tf from '@tensorflow/tfjs';
import { inject } from 'inversify';
import { trainer, Type, type Static } from '../../framework/registry/index.js';
import { TOKENS } from '../../framework/container/tokens.js';
import type { Classifier, FitResult, OptimizerFactory, RunHandle, Trainer } from '../../framework/interfaces.js';
import type { ConfigMap } from '../../framework/config/load.js';
import type { CheckpointData } from '../../framework/run/checkpoint.js';
import { loadMnist, type MnistSet, type MnistSplit } from '../../framework/data/mnist.js';
import { accuracy, classifyImages } from '../../framework/eval/classify.js';
import { Progress } from '../../framework/training/progress.js';
import { EmaWeights } from '../../framework/training/ema-weights.js';
import { ModelWeightSets } from '../../framework/training/weight-sets.js';
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

/** The dataset section this trainer reads; see `labeledData`. */
interface MnistSection {
  type: string;
  split: MnistSplit;
  dir?: string;
  batch_size: number;
  shuffle: boolean;
  normalize: string;
  drop_last: boolean;
  limit?: number;
}

/**
 * Supervised training of a classifier on labelled MNIST with softmax cross-entropy; the test
 * split's accuracy is recorded after every epoch. One thread (the model is small).
 */
@trainer('classifier', {
  description: 'Trains a classifier (e.g. MnistClassifier) on labelled MNIST with cross-entropy; records test accuracy',
  params: Params,
})
export class ClassifierTrainer implements Trainer {
  constructor(
    @inject(TOKENS.Params) private readonly params: Params,
    @inject(TOKENS.Model) private readonly model: Classifier,
    @inject(TOKENS.Optimizer) private readonly optimizerFactory: OptimizerFactory,
    @inject(TOKENS.Seed) private readonly seed: number,
    @inject(TOKENS.Experiment) private readonly experiment: ConfigMap,
  ) {}

  async fit(run: RunHandle): Promise<FitResult> {
    const section = this.experiment.dataset as MnistSection;
    const train = labeledData(section);
    const test = loadMnist({ dir: section.dir, split: 'test' });
    const batches = new LabeledBatches(train, section, this.model.classes, new Rng(this.seed).fork('data'));
    const totalSteps = Math.min(this.params.max_steps ?? Infinity, this.params.epochs * batches.perEpoch);
    const epochs = Math.ceil(totalSteps / batches.perEpoch);
    const optimizer = this.optimizerFactory.create();
    const average = new EmaWeights(this.model.variables());
    const weights = new ModelWeightSets(this.model.variables());
    weights.register(AVERAGE, average.shadow);
    let step = run.resumeFrom ? await restore(this.model, optimizer, average, run.resumeFrom) : 0;
    const progress = run.quiet ? undefined : new Progress(totalSteps, step);
    let lastLoss: number | undefined;
    let epochStart = performance.now();
    let epochImages = 0;
    try {
      while (step < totalSteps && !run.stopRequested()) {
        // The step itself is synchronous: yield so a Ctrl-C's stop request gets through.
        await new Promise((resolve) => setImmediate(resolve));
        const { x, labels, epoch, last } = batches.at(step);
        lastLoss = this.optimize(optimizer, x, labels);
        average.update(this.model.variables(), Math.min(this.params.average, (1 + step) / (10 + step)));
        step += 1;
        epochImages += x.shape[0];
        tf.dispose([x, labels]);
        if (!Number.isFinite(lastLoss)) throw new XpError(`the loss became ${lastLoss} at step ${step}; stopped`);
        run.record.scalar(this.params.loss_tag, lastLoss, step);
        const seconds = (performance.now() - epochStart) / 1000;
        progress?.update({ step, totalSteps, epoch, epochs, loss: lastLoss, imagesPerSecond: epochImages / seconds });
        if (last || step === totalSteps) {
          const testAccuracy = weights.use(AVERAGE, () => this.accuracyOn(test));
          run.record.scalar(this.params.accuracy_tag, testAccuracy, step);
          progress?.log(
            `epoch ${epoch + 1}/${epochs}  step ${step}/${totalSteps}  loss ${lastLoss.toFixed(4)}  ` +
              `test accuracy ${(100 * testAccuracy).toFixed(2)}%  ${(epochImages / seconds).toFixed(0)} img/s  ${seconds.toFixed(1)} s`,
          );
          [epochStart, epochImages] = [performance.now(), 0];
        }
      }
      const status = step < totalSteps ? 'interrupted' : 'completed';
      // A finished run is its averaged weights; an interrupted one keeps both to continue.
      if (status === 'completed') for (const [name, v] of this.model.variables()) v.assign(average.shadow.get(name)!);
      await run.checkpoints?.save(step, await capture(this.model, optimizer, average), { keepLast: 1 });
      return { status, steps: step, epochs: Math.ceil(step / batches.perEpoch), lastLoss };
    } finally {
      progress?.stop();
      optimizer.dispose();
      average.dispose();
    }
  }

  /** The share of a labelled set the model classifies right. */
  private accuracyOn(set: MnistSet): number {
    return accuracy(classifyImages(this.model, set.images, set.height, set.width), set.labels);
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
 * The images and labels the dataset section names. The Dataset contract hands out images
 * only, so this trainer reads the mnist section itself and batches images with their labels.
 */
function labeledData(section: MnistSection): MnistSet {
  if (section.type !== 'mnist') {
    throw new XpError(`dataset: the classifier trainer needs the labelled 'mnist' dataset, got '${section.type}'`);
  }
  if (section.normalize !== 'minus-one-one') {
    throw new XpError(
      `dataset.normalize: the classifier trainer needs 'minus-one-one' (xp eval feeds it images in [-1, 1]), got '${section.normalize}'`,
    );
  }
  const set = loadMnist({ dir: section.dir, split: section.split });
  const count = Math.min(set.count, section.limit ?? set.count);
  const pixels = set.height * set.width;
  return { ...set, count, images: set.images.subarray(0, count * pixels), labels: set.labels.subarray(0, count) };
}

interface LabeledBatch {
  /** [n, h, w, 1] in [-1, 1]. */
  x: tf.Tensor4D;
  /** [n, classes] one-hot. */
  labels: tf.Tensor2D;
  epoch: number;
  /** Whether this is the epoch's last batch. */
  last: boolean;
}

/**
 * Batches of (image, label), shuffled afresh each epoch with a generator forked from the epoch
 * number, so the batch of any step follows from the step alone and a resumed run sees exactly
 * the batches it would have seen.
 */
class LabeledBatches {
  readonly perEpoch: number;
  private order?: { epoch: number; indices: Uint32Array };

  constructor(
    private readonly set: MnistSet,
    private readonly section: MnistSection,
    private readonly classes: number,
    private readonly rng: Rng,
  ) {
    const { batch_size: size, drop_last: dropLast } = section;
    this.perEpoch = dropLast ? Math.floor(set.count / size) : Math.ceil(set.count / size);
    if (this.perEpoch === 0) throw new XpError(`dataset: ${set.count} images are fewer than one batch of ${size}`);
  }

  at(step: number): LabeledBatch {
    const epoch = Math.floor(step / this.perEpoch);
    const index = step % this.perEpoch;
    const indices = this.indicesOf(epoch);
    const { height, width, images, labels } = this.set;
    const pixels = height * width;
    const first = index * this.section.batch_size;
    const size = Math.min(this.section.batch_size, this.set.count - first);
    const x = new Float32Array(size * pixels);
    const labelsOf = new Int32Array(size);
    for (let b = 0; b < size; b++) {
      const image = indices[first + b];
      for (let p = 0; p < pixels; p++) x[b * pixels + p] = images[image * pixels + p] / 127.5 - 1;
      labelsOf[b] = labels[image];
    }
    return {
      x: tf.tensor4d(x, [size, height, width, 1]),
      labels: tf.tidy(() => tf.oneHot(tf.tensor1d(labelsOf, 'int32'), this.classes).toFloat() as tf.Tensor2D),
      epoch,
      last: index === this.perEpoch - 1,
    };
  }

  private indicesOf(epoch: number): Uint32Array {
    if (this.order?.epoch !== epoch) {
      const indices = Uint32Array.from({ length: this.set.count }, (_, i) => i);
      if (this.section.shuffle) this.rng.fork(epoch).shuffle(indices);
      this.order = { epoch, indices };
    }
    return this.order.indices;
  }
}

/** Weights, their average and optimizer moments; the checkpoint adds the step, from which the batch order follows. */
async function capture(model: Classifier, optimizer: tf.Optimizer, average: EmaWeights): Promise<CheckpointData> {
  const tensors = new Map<string, tf.Tensor>();
  for (const [name, v] of model.variables()) tensors.set(`model/${name}`, v);
  for (const [name, v] of average.shadow) tensors.set(`${AVERAGE}/${name}`, v);
  (await optimizer.getWeights()).forEach((w, i) => tensors.set(`optimizer/${i}`, w.tensor));
  return { state: {}, tensors };
}

/** Puts a checkpoint back; returns its step. */
async function restore(model: Classifier, optimizer: tf.Optimizer, average: EmaWeights, { state, tensors }: CheckpointData): Promise<number> {
  for (const [prefix, variables] of [['model', model.variables()], [AVERAGE, average.shadow]] as const) {
    for (const [name, v] of variables) {
      const saved = tensors.get(`${prefix}/${name}`);
      if (!saved) throw new XpError(`the checkpoint has no '${prefix}/${name}': it belongs to another model`);
      v.assign(saved);
    }
  }
  const moments = [...tensors].filter(([name]) => name.startsWith('optimizer/'));
  moments.sort(([a], [b]) => Number(a.split('/')[1]) - Number(b.split('/')[1]));
  if (moments.length) await optimizer.setWeights(moments.map(([name, tensor]) => ({ name, tensor })));
  return Number(state.step);
}
