/**
 * Fills a registry from component modules: xp's own (file URLs, imported as they are) and a
 * user's (`imports:` in YAML, `--import` on the command line: file paths, .ts or .js, no build
 * step, through tsx). A module's exported decorated classes are registered. Inside a user's
 * module, `import { block, ... } from 'xp'` resolves to this package wherever the file lives.
 */
import fs from 'node:fs';
import path from 'node:path';
import Module, { register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { XpError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { Registry } from '../registry/registry.js';


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

/** Imports each module (a file URL of xp's own, or a user's file path) and registers what it exports. */
export async function loadModules(registry: Registry, specifiers: string[]): Promise<void> {
  for (const specifier of specifiers) {
    const exports = specifier.startsWith('file:') ? await import(specifier) : await importUserModule(specifier);
    registry.addModule(specifier, exports as Record<string, unknown>);
  }
}

/** A user's module through tsx; one that fails to load is an error naming it. */
async function importUserModule(file: string): Promise<unknown> {
  installXpResolver();
  if (!fs.existsSync(file)) throw new PluginError(`cannot import '${file}': no such file`);
  try {
    return await tsImport(pathToFileURL(file).href, {
      parentURL: import.meta.url,
      tsconfig: path.join(packageRoot, 'tsconfig.plugins.json'),
    });
  } catch (err) {
    if (err instanceof XpError) throw err;
    throw new PluginError(`cannot import '${file}': ${(err as Error).message.split('\n')[0]}`);
  }
}
