/**
 * `xp eval SAMPLES|RUN [--n N] [--ema] [--json]`: FID on the MNIST classifier's features and
 * the classifier's confidence and class spread, for the samples and, at the same n against the
 * same reference, for held-out real digits (the floor) and pixel noise (the ceiling).
 */
import fs from 'node:fs';
import { requestedBackend, selectBackend } from '../../../framework/backend.js';
import { XpError } from '../../../framework/errors.js';
import { loadClassifier } from '../../eval/classifier-cache.js';
import { Evaluation, type SetMetrics } from '../../../framework/eval/evaluation.js';
import { readSampleImages } from '../../eval/sample-files.js';
import { sampleCheckpoint, type SamplingOptions } from './sample.js';

export interface EvalOptions extends Omit<SamplingOptions, 'n'> {
  /** Images to evaluate: default all of a file's, 1,000 from a run. */
  n?: number;
  json?: boolean;
  /** Overrides of the classifier experiment (`--classifier-set`). */
  classifierSet?: string[];
}

const RUN_DEFAULT_N = 1000;
/**
 * The side of the images the classifier takes (it trains on MNIST), known before it loads, so a
 * bad samples file fails before a first-use training; checked against the classifier after.
 */
const MNIST_SIDE = 28;
const MAX_CLASS_ENTROPY = Math.log2(10);

export interface EvalReport {
  /** The samples file, or the checkpoint sampled. */
  source: string;
  /** For a run: which weights drew the samples. */
  weights?: 'model' | 'ema';
  n: number;
  classifier: { dir: string; sha256: string; testAccuracy: number; featureDim: number };
  reference: { images: number; of: string };
  samples: SetMetrics;
  floor: SetMetrics;
  ceiling: SetMetrics;
}

export async function evaluate(target: string, opts: EvalOptions): Promise<void> {
  if (!fs.existsSync(target)) throw new XpError(`${target}: no such file or run folder`);
  const isRun = fs.statSync(target).isDirectory();
  if (!isRun) await selectBackend(requestedBackend(opts.backend));
  // A run picks its backend from its experiment; the classifier then runs on the same one.
  const { pixels, n, height, width, source } = isRun ? await sampleRun(target, opts) : readFile(target, opts.n);
  const loaded = await loadClassifier({ overrides: opts.classifierSet });
  try {
    const [h, w] = loaded.imageShape;
    if (height !== h || width !== w) throw new XpError(`${source}: its images are ${width}×${height}, the classifier takes ${w}×${h}`);
    const evaluation = await Evaluation.create(loaded.classifier, n, h, w);
    const report: EvalReport = {
      source,
      ...(isRun ? { weights: opts.ema ? 'ema' : 'model' } : {}),
      n,
      classifier: {
        dir: loaded.dir,
        sha256: loaded.info.sha256,
        testAccuracy: loaded.info.testAccuracy,
        featureDim: loaded.classifier.featureDim,
      },
      reference: { images: evaluation.referenceImages, of: 'MNIST test set' },
      samples: await evaluation.measure(pixels),
      floor: evaluation.floor,
      ceiling: evaluation.ceiling,
    };
    console.log(opts.json ? JSON.stringify(report) : formatReport(report));
  } finally {
    loaded.classifier.dispose();
  }
}

interface Images {
  pixels: Uint8Array;
  n: number;
  height: number;
  width: number;
  source: string;
}

/** The first n images of a samples file (all by default); its format comes from the extension. */
function readFile(file: string, wanted: number | undefined): Images {
  const images = readSampleImages(file, MNIST_SIDE, MNIST_SIDE);
  const n = wanted ?? images.n;
  if (!Number.isInteger(n) || n < 1) throw new XpError(`--n must be a positive integer, got ${n}`);
  if (n > images.n) throw new XpError(`${file}: --n ${n} asks for more images than the ${images.n} it holds`);
  return { ...images, pixels: images.pixels.subarray(0, n * images.height * images.width), n, source: file };
}

async function sampleRun(target: string, opts: EvalOptions): Promise<Images> {
  const n = opts.n ?? RUN_DEFAULT_N;
  const { bytes, shape, checkpoint } = await sampleCheckpoint(target, { ...opts, n });
  if (shape[2] !== 1) throw new XpError(`${checkpoint}: the model draws ${shape[2]}-channel images; the classifier takes grayscale`);
  return { pixels: bytes, n, height: shape[0], width: shape[1], source: checkpoint };
}

function formatReport(report: EvalReport): string {
  const { classifier, reference, n } = report;
  const rows: [string, SetMetrics][] = [
    [report.weights === 'ema' ? 'samples (EMA)' : 'samples', report.samples],
    ['real (floor)', report.floor],
    ['noise (ceiling)', report.ceiling],
  ];
  const table = [
    ['', 'FID', 'confidence', '> 0.9', 'class entropy'],
    ...rows.map(([label, m]) => [
      label,
      m.fid.toFixed(2),
      m.confidence.toFixed(3),
      `${(100 * m.confident).toFixed(1)}%`,
      `${m.classEntropy.toFixed(2)} bits`,
    ]),
  ];
  const widths = table[0].map((_, col) => Math.max(...table.map((row) => row[col].length)));
  const lines = table.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  '));
  return [
    `samples     ${report.source}`,
    `classifier  ${classifier.dir} (test accuracy ${(100 * classifier.testAccuracy).toFixed(2)}%, sha256 ${classifier.sha256.slice(0, 12)})`,
    `FID         on its ${classifier.featureDim} penultimate features, ${n.toLocaleString('en-US')} images per row, ` +
      `against ${reference.images.toLocaleString('en-US')} images of the ${reference.of}`,
    '',
    ...lines,
    '',
    `confidence: mean top softmax probability; > 0.9: share of images above 0.9; class entropy: of the predicted-class ` +
      `histogram, ${MAX_CLASS_ENTROPY.toFixed(2)} bits when all 10 digits are equally common`,
  ].join('\n');
}
