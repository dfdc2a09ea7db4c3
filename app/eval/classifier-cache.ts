/**
 * The classifier behind xp's sample metrics, trained by xp itself from
 * experiments/mnist-classifier.yaml on first use and cached in
 * `<cache>/mnist-classifier/` (`<cache>`: $XP_CACHE_DIR, else $XDG_CACHE_HOME/xp, else
 * ~/.cache/xp) as weights.bin and a manifest.json holding its sha256, the resolved experiment
 * it was trained from and its test accuracy (one trained with overrides goes to
 * `mnist-classifier-<config hash>/`). A cache that is missing, fails its checksum or
 * was trained from another configuration is retrained; a new cache is written to a temporary
 * folder and renamed into place, so readers never see half of one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { resolveExperiment } from '../../framework/config/resolve.js';
import type { ConfigMap } from '../../framework/config/load.js';
import { assemble } from '../../framework/container/assembly.js';
import { TOKENS } from '../../framework/container/tokens.js';
import type { Classifier, Recorder, Shape3, Trainer } from '../../framework/interfaces.js';
import { cacheRoot, packageRoot } from '../../framework/paths.js';
import { writeFileAtomic } from '../../framework/fsutil.js';
import { XpError } from '../../framework/errors.js';
import { registerBuiltins } from '../../components/index.js';

const CLASSIFIER_EXPERIMENT = path.join(packageRoot, 'experiments', 'mnist-classifier.yaml');
const FOLDER = 'mnist-classifier';
const WEIGHTS_FILE = 'weights.bin';
const MANIFEST_FILE = 'manifest.json';

/** What the manifest records: enough to check the weights and to say where numbers came from. */
export interface ClassifierInfo {
  /** sha256 of weights.bin. */
  sha256: string;
  /** sha256 of the resolved experiment's JSON: a changed configuration retrains. */
  configSha256: string;
  experiment: ConfigMap;
  testAccuracy: number;
  steps: number;
  trainSeconds: number;
  backend: string;
  trainedAt: string;
}

interface Manifest extends ClassifierInfo {
  weights: tf.io.WeightsManifestEntry[];
}

export interface LoadedClassifier {
  classifier: Classifier;
  /** [height, width, channels] of the images it takes. */
  imageShape: Shape3;
  info: ClassifierInfo;
  /** The folder it was loaded from or saved to. */
  dir: string;
  /** Whether this call trained it (a first use, or a stale or corrupt cache). */
  trained: boolean;
}

export interface ClassifierOptions {
  /** `--set`-style overrides of the classifier experiment (a cheaper classifier for tests). */
  overrides?: string[];
  /** Default: $XP_CACHE_DIR, $XDG_CACHE_HOME/xp or ~/.cache/xp. */
  cacheRoot?: string;
  /** No progress output while training. */
  quiet?: boolean;
}

/** The cached classifier, trained first where the cache cannot be used. Uses the current tfjs backend. */
export async function loadClassifier(options: ClassifierOptions = {}): Promise<LoadedClassifier> {
  const resolved = await resolveExperiment(CLASSIFIER_EXPERIMENT, { registry: registerBuiltins(), overrides: options.overrides });
  const config = resolved.value;
  const configSha256 = sha256(JSON.stringify(config));
  // An overridden classifier gets a folder of its own, so it never displaces the default one.
  const folder = options.overrides?.length ? `${FOLDER}-${configSha256.slice(0, 12)}` : FOLDER;
  const dir = path.join(options.cacheRoot ?? cacheRoot(), folder);
  const container = assemble(resolved);
  const classifier = container.get(TOKENS.Model) as Classifier;
  const imageShape = container.get(TOKENS.ImageShape) as Shape3;
  try {
    const cached = readCache(dir, configSha256);
    if ('manifest' in cached) {
      assignWeights(classifier, cached.weights, dir);
      const { weights: _specs, ...info } = cached.manifest;
      return { classifier, imageShape, info, dir, trained: false };
    }
    if (!options.quiet) console.error(`xp: training the MNIST classifier (${cached.problem}); it is cached in ${dir}`);
    const info = await train(container.get(TOKENS.Trainer) as Trainer, classifier, config, configSha256, dir, options.quiet);
    return { classifier, imageShape, info, dir, trained: true };
  } catch (err) {
    classifier.dispose();
    throw err;
  }
}

type CacheRead = { manifest: Manifest; weights: tf.NamedTensorMap } | { problem: string };

/** The cache's weights, or why they cannot be used. */
function readCache(dir: string, configSha256: string): CacheRead {
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const weightsFile = path.join(dir, WEIGHTS_FILE);
  if (!fs.existsSync(manifestFile) || !fs.existsSync(weightsFile)) return { problem: 'not cached yet' };
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
  } catch (err) {
    return { problem: `${manifestFile} is corrupt: ${(err as Error).message}` };
  }
  if (manifest.configSha256 !== configSha256) return { problem: `the cached one was trained from another configuration` };
  const bytes = fs.readFileSync(weightsFile);
  if (sha256(bytes) !== manifest.sha256) return { problem: `${weightsFile} fails its sha256 checksum` };
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  try {
    return { manifest, weights: tf.io.decodeWeights(buffer, manifest.weights) };
  } catch (err) {
    return { problem: `${manifestFile} does not describe its weights: ${(err as Error).message}` };
  }
}

function assignWeights(classifier: Classifier, weights: tf.NamedTensorMap, dir: string): void {
  try {
    for (const [name, v] of classifier.variables()) {
      const saved = weights[name];
      if (!saved) throw new XpError(`${dir} has no weights for '${name}'`);
      v.assign(saved);
    }
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/** Runs the classifier experiment in this process (no run folder) and writes the cache. */
async function train(
  trainer: Trainer,
  classifier: Classifier,
  experiment: ConfigMap,
  configSha256: string,
  dir: string,
  quiet = false,
): Promise<ClassifierInfo> {
  const record = new LastScalars();
  const start = performance.now();
  const result = await trainer.fit({ record, stopRequested: () => false, quiet });
  const testAccuracy = record.values[accuracyTag(experiment)];
  if (testAccuracy === undefined) throw new XpError(`${CLASSIFIER_EXPERIMENT}: its accuracy callback recorded no test accuracy`);
  const named = [...classifier.variables()].map(([name, tensor]) => ({ name, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data as ArrayBuffer);
  const info: ClassifierInfo = {
    sha256: sha256(bytes),
    configSha256,
    experiment,
    testAccuracy,
    steps: result.steps,
    trainSeconds: (performance.now() - start) / 1000,
    backend: tf.getBackend(),
    trainedAt: new Date().toISOString(),
  };
  writeCache(dir, bytes, { ...info, weights: specs });
  return info;
}

/** The tag under which the experiment's accuracy callback records. */
function accuracyTag(experiment: ConfigMap): string {
  const callbacks = Object.values((experiment.callbacks ?? {}) as Record<string, { type: string; tag?: string }>);
  return callbacks.find((c) => c.type === 'accuracy')?.tag ?? '';
}

/** Writes a sibling temporary folder and renames it over `dir`. */
function writeCache(dir: string, weights: Uint8Array, manifest: Manifest): void {
  const temp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(temp, { recursive: true, force: true });
  fs.mkdirSync(temp, { recursive: true });
  writeFileAtomic(path.join(temp, WEIGHTS_FILE), weights);
  writeFileAtomic(path.join(temp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.renameSync(temp, dir);
  } catch (err) {
    // Another process trained one too and renamed it in first: theirs serves as well.
    fs.rmSync(temp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, MANIFEST_FILE))) throw err;
  }
}

/** Keeps the last value of each scalar; the only records a cache training needs. */
class LastScalars implements Recorder {
  readonly values: Record<string, number> = {};

  scalar(tag: string, value: number): void {
    this.values[tag] = value;
  }

  image(): void {}

  text(): void {}
}

function sha256(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}
