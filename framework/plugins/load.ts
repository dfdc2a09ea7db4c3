/**
 * Loads user component modules (`imports:` in YAML, `--import` on the command line): .ts
 * and .js, no build step, through tsx. Their decorated classes register themselves. Inside
 * them, `import { block, ... } from 'xp'` resolves to this package wherever the file lives.
 */
import fs from 'node:fs';
import path from 'node:path';
import Module, { register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { XpError } from '../errors.js';
import { packageRoot } from '../paths.js';


/** The file `import ... from 'xp'` means: the built entry, or the source one when running from source. */
function xpEntry(): string {
  const built = fileURLToPath(new URL('../../index.js', import.meta.url));
  return fs.existsSync(built) ? built : built.replace(/\.js$/, '.ts');
}

let resolverInstalled = false;

/** Makes the bare specifier 'xp' resolve to this package, for CommonJS (tsx) and ES module loads. */
function installXpResolver(): void {
  if (resolverInstalled) return;
  resolverInstalled = true;
  const entry = xpEntry();
  // tsx loads a .ts file outside a "type": "module" package as CommonJS, through require().
  const cjs = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolveFilename = cjs._resolveFilename;
  cjs._resolveFilename = function (request, ...rest) {
    return request === 'xp' ? entry : resolveFilename.call(this, request, ...rest);
  };
  register(new URL(`./xp-resolve-hook${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url), {
    data: { entry: pathToFileURL(entry).href },
  });
}

export class PluginError extends XpError {}

/** Imports each module once; a module that fails to load is an error naming it. */
export async function loadComponentModules(paths: string[]): Promise<void> {
  if (!paths.length) return;
  installXpResolver();
  for (const file of paths) {
    if (!fs.existsSync(file)) throw new PluginError(`cannot import '${file}': no such file`);
    try {
      await tsImport(pathToFileURL(file).href, {
        parentURL: import.meta.url,
        tsconfig: path.join(packageRoot, 'tsconfig.plugins.json'),
      });
    } catch (err) {
      if (err instanceof XpError) throw err;
      throw new PluginError(`cannot import '${file}': ${(err as Error).message.split('\n')[0]}`);
    }
  }
}
