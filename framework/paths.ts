/** Where this package lives, whether running from source (tsx) or from dist/. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The package root: the folder holding package.json, schema.json and tsconfig files. */
export const packageRoot = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '../..') : path.resolve(here, '..');

export const schemaPath = path.join(packageRoot, 'schema.json');

/** xp's cache (the eval classifier, the software Vulkan driver): $XP_CACHE_DIR, else $XDG_CACHE_HOME/xp, else ~/.cache/xp. */
export function cacheRoot(): string {
  if (process.env.XP_CACHE_DIR) return process.env.XP_CACHE_DIR;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'xp');
}
