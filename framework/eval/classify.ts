/**
 * Running a classifier over uint8 images in batches, keeping only what evaluation needs on the
 * JavaScript side: the penultimate features and the softmax probabilities.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../interfaces.js';
import { XpError } from '../errors.js';

/** The classifier's view of n images. */
export interface Classified {
  n: number;
  /** n × featureDim, row-major. */
  features: Float32Array;
  featureDim: number;
  /** n × classes softmax probabilities, row-major. */
  probabilities: Float32Array;
  classes: number;
}

/** Images per forward pass: small enough for the wasm heap, large enough to amortize the calls. */
const BATCH = 500;

/**
 * `images`: n × h × w pixels 0..255 (one channel), mapped to [-1, 1] as the classifier was
 * trained (and as samplers produce them before they become bytes).
 */
export async function classify(classifier: Classifier, images: Uint8Array, height: number, width: number): Promise<Classified> {
  const out = emptyClassified(classifier, images, height, width);
  for (const { start, features, probabilities } of batchOutputs(classifier, images, height, width, out.n)) {
    try {
      out.features.set(await features.data(), start * classifier.featureDim);
      out.probabilities.set(await probabilities.data(), start * classifier.classes);
    } finally {
      tf.dispose([features, probabilities]);
    }
  }
  return out;
}

function emptyClassified(classifier: Classifier, images: Uint8Array, height: number, width: number): Classified {
  const size = height * width;
  if (images.length % size !== 0) throw new XpError(`${images.length} pixels are not a whole number of ${height}×${width} images`);
  const n = images.length / size;
  const { featureDim, classes } = classifier;
  return { n, features: new Float32Array(n * featureDim), featureDim, probabilities: new Float32Array(n * classes), classes };
}

/** The classifier's features and softmax probabilities, BATCH images at a time; the caller disposes each batch's. */
function* batchOutputs(classifier: Classifier, images: Uint8Array, height: number, width: number, n: number) {
  const size = height * width;
  for (let start = 0; start < n; start += BATCH) {
    const count = Math.min(BATCH, n - start);
    const [features, probabilities] = tf.tidy(() => {
      const pixels = tf.tensor4d(images.subarray(start * size, (start + count) * size), [count, height, width, 1], 'float32');
      const { logits, features: batchFeatures } = classifier.forward(tf.sub(tf.div(pixels, 127.5), 1));
      return [batchFeatures, tf.softmax(logits)];
    });
    yield { start, features, probabilities };
  }
}

/** The most probable class of each image. */
export function predictedClasses({ n, probabilities, classes }: Classified): Uint8Array {
  const predicted = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[i * classes + c] > probabilities[i * classes + best]) best = c;
    predicted[i] = best;
  }
  return predicted;
}

/** The share of images whose predicted class is their label. */
export function accuracy(classified: Classified, labels: Uint8Array): number {
  const predicted = predictedClasses(classified);
  let correct = 0;
  for (let i = 0; i < classified.n; i++) if (predicted[i] === labels[i]) correct++;
  return correct / classified.n;
}
