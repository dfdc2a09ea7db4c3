/**
 * Experiment files: `extends` chains (maps merge deeply, lists and scalars replace, a changed
 * component `type` replaces its whole map), `imports` resolved against the file that names
 * them, and a source position kept for every value.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, joinPath, type Issue } from './issues.js';
import { parseYamlFile, type Sources } from './yaml-source.js';

export type ConfigMap = Record<string, unknown>;

export interface LoadedConfig {
  /** The merged experiment, `extends` removed, `imports` absolute. */
  value: ConfigMap;
  sources: Sources;
  /** The file that was asked for, then its parents. */
  files: string[];
}

export function isMapValue(v: unknown): v is ConfigMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Loads an experiment file and everything it extends; all problems are reported together. */
export function loadExperiment(file: string): LoadedConfig {
  const issues: Issue[] = [];
  const loaded = loadChain(path.resolve(file), [], issues);
  if (issues.length) throw new ConfigError(issues);
  const name = typeof loaded.value.name === 'string' ? loaded.value.name : experimentNameOf(file);
  return { ...loaded, value: { name, ...loaded.value } };
}

export function experimentNameOf(file: string): string {
  return path.basename(file).replace(/\.ya?ml$/, '');
}

function loadChain(file: string, chain: string[], issues: Issue[]): LoadedConfig {
  const parsed = parseYamlFile(file);
  issues.push(...parsed.issues);
  const own = parsed.value;
  resolveImports(own, file, parsed.sources, issues);
  let merged: LoadedConfig = { value: {}, sources: new Map(), files: [] };
  for (const [index, parent] of extendsList(own.extends).entries()) {
    const extendsPath = Array.isArray(own.extends) ? `extends.${index}` : 'extends';
    const pos = parsed.sources.get(extendsPath) ?? parsed.sources.get('');
    const parentFile = path.resolve(path.dirname(file), parent);
    if ([...chain, file].includes(parentFile)) {
      const cycle = [...chain, file, parentFile].map((f) => path.basename(f)).join(' -> ');
      issues.push({ pos, path: extendsPath, message: `extends cycle: ${cycle}` });
      continue;
    }
    if (!fs.existsSync(parentFile)) {
      issues.push({ pos, path: extendsPath, message: `cannot extend '${parent}': no such file (${parentFile})` });
      continue;
    }
    const loaded = loadChain(parentFile, [...chain, file], issues);
    delete loaded.value.name; // an experiment's name is its own, never inherited
    merged = mergeLoaded(merged, loaded);
  }
  delete own.extends;
  const result = mergeLoaded(merged, { value: own, sources: parsed.sources, files: [file] });
  result.files = [file, ...merged.files];
  return result;
}

function extendsList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** `imports` are relative to the file that lists them; after merging they are absolute and unioned. */
function resolveImports(own: ConfigMap, file: string, sources: Sources, issues: Issue[]): void {
  if (own.imports === undefined) return;
  if (!Array.isArray(own.imports)) {
    issues.push({ pos: sources.get('imports'), path: 'imports', message: 'expected a list of module paths' });
    delete own.imports;
    return;
  }
  own.imports = own.imports.map((p) => path.resolve(path.dirname(file), String(p)));
}

function mergeLoaded(base: LoadedConfig, over: LoadedConfig): LoadedConfig {
  const sources = new Map(base.sources);
  const value = mergeValue(base.value, over.value, '', sources, over.sources) as ConfigMap;
  const imports = [...new Set([...asList(base.value.imports), ...asList(over.value.imports)])];
  if (imports.length) value.imports = imports;
  return { value, sources, files: [...over.files, ...base.files] };
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/**
 * Deep merge of `over` onto `base`. `sources` starts as base's positions; wherever over
 * replaces a subtree, base's positions under it are dropped and over's copied in.
 */
function mergeValue(base: unknown, over: unknown, at: string, sources: Sources, overSources: Sources): unknown {
  if (isMapValue(base) && isMapValue(over) && !changesComponentType(base, over)) {
    const out: ConfigMap = { ...base };
    for (const [key, value] of Object.entries(over)) {
      const childPath = joinPath(at, key);
      out[key] = mergeValue(base[key], value, childPath, sources, overSources);
      const keyPos = overSources.get(childPath);
      if (keyPos) sources.set(childPath, keyPos);
    }
    return out;
  }
  replaceSources(at, sources, overSources);
  return over;
}

function changesComponentType(base: ConfigMap, over: ConfigMap): boolean {
  return 'type' in base && 'type' in over && base.type !== over.type;
}

function replaceSources(at: string, sources: Sources, overSources: Sources): void {
  const under = (p: string) => at === '' || p === at || p.startsWith(`${at}.`);
  for (const p of [...sources.keys()]) if (under(p)) sources.delete(p);
  for (const [p, pos] of overSources) if (under(p)) sources.set(p, pos);
}
