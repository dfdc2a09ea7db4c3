/**
 * The whole path from a file name to a validated experiment: parse with positions →
 * `extends` → command-line overrides → user component modules (into the registry given) →
 * schema (defaults filled) → all problems at once, as one ConfigError.
 */
import path from 'node:path';
import { loadModules } from '../plugins/load.js';
import type { Registry } from '../registry/registry.js';
import { ConfigError, type Issue } from './issues.js';
import { loadExperiment, type LoadedConfig } from './load.js';
import { applyOverrides, parseOverride } from './overrides.js';
import { validateExperiment } from './validate.js';

export interface ResolveOptions {
  /** Where component names resolve: the built-ins and whatever the app loaded; the experiment's `imports:` are added to it. */
  registry: Registry;
  /** `--set` arguments, applied in order after `extends`. */
  overrides?: string[];
  /** `--import` modules, relative to the working directory. */
  imports?: string[];
}

/** A validated experiment with the registry its names resolve in. */
export interface ResolvedExperiment extends LoadedConfig {
  registry: Registry;
}

export async function resolveExperiment(file: string, options: ResolveOptions): Promise<ResolvedExperiment> {
  const { registry } = options;
  const config = loadExperiment(file);
  const issues: Issue[] = [];
  const overrides = (options.overrides ?? []).map(parseOverride);
  issues.push(...applyOverrides(config, overrides));
  addImports(config, (options.imports ?? []).map((p) => path.resolve(p)));
  await loadModules(registry, (config.value.imports as string[] | undefined) ?? []);
  issues.push(...validateExperiment(config, registry));
  if (issues.length) throw new ConfigError(sortIssues(issues));
  return { ...config, registry };
}

function addImports(config: LoadedConfig, extra: string[]): void {
  if (!extra.length) return;
  const existing = (config.value.imports as string[] | undefined) ?? [];
  config.value.imports = [...new Set([...existing, ...extra])];
}

/** In file order: by file, then line, then column. */
export function sortIssues(issues: Issue[]): Issue[] {
  const key = (i: Issue) => [i.pos?.file ?? '', i.pos?.line ?? 0, i.pos?.col ?? 0] as const;
  return [...issues].sort((a, b) => {
    const [fa, la, ca] = key(a);
    const [fb, lb, cb] = key(b);
    return fa.localeCompare(fb) || la - lb || ca - cb;
  });
}
