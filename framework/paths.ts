/** Where this package lives, whether running from source (tsx) or from dist/. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The package root: the folder holding package.json, schema.json and tsconfig files. */
export const packageRoot = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '../..') : path.resolve(here, '..');

export const schemaPath = path.join(packageRoot, 'schema.json');
