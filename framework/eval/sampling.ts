/** Drawing many samples, a batch of model calls at a time (xp sample, xp eval, the eval callback). */
import type { Denoiser, Sampler, Shape3 } from '../interfaces.js';
import type { Rng } from '../rng.js';
import { samplesToBytes } from '../records/samples.js';

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
