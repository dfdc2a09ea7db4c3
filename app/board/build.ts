/**
 * Builds the board's page into dist/board/: the client (app/board/client/, TypeScript with
 * ECharts and jsdiff) bundled by esbuild into one app.js, beside index.html and app.css. The
 * page loads nothing else, so the board works offline. Run by `npm run build:board`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const client = path.join(root, 'app', 'board', 'client');
const out = path.join(root, 'dist', 'board');

fs.mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(client, 'main.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) fs.copyFileSync(path.join(client, file), path.join(out, file));
