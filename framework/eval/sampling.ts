/** Drawing many samples as bytes, a batch of model calls at a time (xp sample, xp eval, the eval callback). */
import type { Denoiser, Sampler, Shape3 } from '../interfaces.js';
import { samplesToBytes } from '../records/samples.js';
import type { Rng } from '../rng.js';

/** n samples as n × h × w × c bytes, `batch` at a time; `onStep` after every model call. */
export function sampleInBatches(
  model: Denoiser,
  sampler: Sampler,
  shape: Shape3,
  n: number,
  batch: number,
  rng: Rng,
  onStep?: () => void,
): Uint8Array {
  const out = new Uint8Array(n * shape[0] * shape[1] * shape[2]);
  for (let offset = 0, done = 0; done < n; done += batch) {
    const count = Math.min(batch, n - done);
    const bytes = samplesToBytes(sampler.sample(model, count, shape, rng, { onStep }));
    out.set(bytes, offset);
    offset += bytes.length;
  }
  return out;
}
