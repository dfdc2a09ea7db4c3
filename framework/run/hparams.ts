/**
 * The hyperparameters TensorBoard's HParams dashboard shows for a run: every scalar of the
 * resolved experiment by its dotted path (`callbacks.ema.beta`), so runs of a sweep compare
 * on exactly what differs between them.
 */
import type { ConfigMap } from '../config/load.js';

export function hparamsOf(config: ConfigMap, prefix = ''): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [key, value] of Object.entries(config)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (['number', 'string', 'boolean'].includes(typeof value)) out[path] = value as number | string | boolean;
    else if (value && typeof value === 'object' && !Array.isArray(value)) Object.assign(out, hparamsOf(value as ConfigMap, path));
  }
  return out;
}
