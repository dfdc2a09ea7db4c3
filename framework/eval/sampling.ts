/** Drawing many samples, a batch of model calls at a time (xp sample, xp eval, the eval callback). */
import type { Denoiser, Sampler, Shape3 } from '../interfaces.js';
import type { Rng } from '../rng.js';
import { samplesToBytes } from '../records/samples.js';
import { forwardFlopsPerExample } from '../training/slices.js';

/** Forward FLOPs one sampling call may take: the paper's UNet at 16 images (10.3 GFLOP each), which fit the wasm heap. */
const SAMPLING_FLOPS_PER_CALL = 165e9;
/**
 * At most this many images per call: the quick start's forward pass on the native kernels
 * costs 0.63 ms an image at 125, 0.52 at 250, 0.48 at 500 and 0.49 at 1,000 (2 cores).
 */
const MAX_SAMPLING_BATCH = 500;

/** Images per model call when sampling for `xp sample` and `xp eval`: the setting, or for 'auto' as many as fit the call's budget. */
export function samplingBatch(model: Pick<Denoiser, 'summary'>, setting: number | 'auto'): number {
  if (setting !== 'auto') return setting;
  return Math.max(1, Math.min(MAX_SAMPLING_BATCH, Math.floor(SAMPLING_FLOPS_PER_CALL / forwardFlopsPerExample(model))));
}

/** n samples as n × h × w × c bytes, each batch read before the next is issued (bounded memory, honest progress). */
export async function sampleInBatches(
  model: Denoiser,
  sampler: Sampler,
  shape: Shape3,
  n: number,
  batch: number,
  rng: Rng,
  onStep?: () => void,
): Promise<Uint8Array> {
  const out = new Uint8Array(n * shape[0] * shape[1] * shape[2]);
  for (let offset = 0, done = 0; done < n; done += batch) {
    const bytes = await samplesToBytes(sampler.sample(model, Math.min(batch, n - done), shape, rng, { onStep }));
    out.set(bytes, offset);
    offset += bytes.length;
  }
  return out;
}
