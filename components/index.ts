/**
 * The built-in components: `registerBuiltins` registers every class of builtins.ts into a
 * registry. Importing this module registers nothing by itself; the app (and each worker
 * thread, from the registry's module list) asks for it.
 */
import { Registry } from '../index.js';
import * as builtins from './builtins.js';

export * from './builtins.js';

/** Registers the built-in components into `registry` (a new one by default) and returns it. */
export function registerBuiltins(registry = new Registry()): Registry {
  registry.addModule(builtins.BUILTINS_MODULE, builtins);
  return registry;
}
