/**
 * Experiment files: `extends` chains (maps merge deeply, lists and scalars replace, a changed
 * component `type` replaces its whole map), `imports` resolved against the file that names
 * them, and a source position kept for every value. `extends` and `imports` stay inside the
 * experiment's project unless the caller allows otherwise: a file someone else wrote cannot
 * make xp read or run files elsewhere on the machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, joinPath, type Issue, type Position } from './issues.js';
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

/** Set to 1 (`--allow-outside-project` does) to let `extends` and `imports` leave the project. */
export const ALLOW_OUTSIDE_PROJECT = 'XP_ALLOW_OUTSIDE_PROJECT';

export interface LoadOptions {
  /** Let `extends` and `imports` name files outside the experiment's project. */
  allowOutsideProject?: boolean;
}

function defaultLoadOptions(): LoadOptions {
  return { allowOutsideProject: process.env[ALLOW_OUTSIDE_PROJECT] === '1' };
}

/** Loads an experiment file and everything it extends; all problems are reported together. */
export function loadExperiment(file: string, options: LoadOptions = defaultLoadOptions()): LoadedConfig {
  const issues: Issue[] = [];
  const top = path.resolve(file);
  const confine = options.allowOutsideProject ? undefined : projectRoot(top);
  const loaded = loadChain(top, [], issues, confine);
  if (issues.length) throw new ConfigError(issues);
  const name = typeof loaded.value.name === 'string' ? loaded.value.name : experimentNameOf(file);
  return { ...loaded, value: { name, ...loaded.value } };
}

export function experimentNameOf(file: string): string {
  return path.basename(file).replace(/\.ya?ml$/, '');
}

/**
 * The project an experiment file belongs to: the nearest folder above it holding package.json
 * or .git; failing that, the working directory when it holds the file; else the file's folder.
 */
export function projectRoot(file: string): string {
  const real = realPath(file);
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) || fs.existsSync(path.join(dir, '.git'))) return dir;
    if (dir === path.dirname(dir)) break;
  }
  const cwd = realPath(process.cwd());
  return isInside(real, cwd) ? cwd : path.dirname(real);
}

/** Whether `target` is `root` or below it, after following symbolic links. */
export function isInside(target: string, root: string): boolean {
  const relative = path.relative(realPath(root), realPath(target));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** The real path of a file or, where it does not exist yet, of its nearest existing parent. */
function realPath(file: string): string {
  const absolute = path.resolve(file);
  try {
    return fs.realpathSync(absolute);
  } catch {
    const parent = path.dirname(absolute);
    return parent === absolute ? absolute : path.join(realPath(parent), path.basename(absolute));
  }
}

/** Why `target` may not be used, when `confine` is set and it lies outside. */
function outsideProject(what: string, written: string, target: string, confine: string | undefined): string | undefined {
  if (!confine || isInside(target, confine)) return undefined;
  return `${what} '${written}': it is outside the experiment's project (${confine}); pass --allow-outside-project (or set ${ALLOW_OUTSIDE_PROJECT}=1) if you trust it`;
}

function loadChain(file: string, chain: string[], issues: Issue[], confine: string | undefined): LoadedConfig {
  const parsed = parseYamlFile(file);
  issues.push(...parsed.issues);
  const own = parsed.value;
  resolveImports(own, file, parsed.sources, issues, confine);
  let merged: LoadedConfig = { value: {}, sources: new Map(), files: [] };
  for (const [index, parent] of extendsList(own.extends).entries()) {
    const extendsPath = Array.isArray(own.extends) ? `extends.${index}` : 'extends';
    const pos = parsed.sources.get(extendsPath) ?? parsed.sources.get('');
    const parentFile = path.resolve(path.dirname(file), parent);
    const outside = outsideProject('cannot extend', parent, parentFile, confine);
    if (outside) {
      issues.push({ pos, path: extendsPath, message: outside });
      continue;
    }
    if ([...chain, file].includes(parentFile)) {
      const cycle = [...chain, file, parentFile].map((f) => path.basename(f)).join(' -> ');
      issues.push({ pos, path: extendsPath, message: `extends cycle: ${cycle}` });
      continue;
    }
    if (!fs.existsSync(parentFile)) {
      issues.push({ pos, path: extendsPath, message: `cannot extend '${parent}': no such file (${parentFile})` });
      continue;
    }
    const loaded = loadChain(parentFile, [...chain, file], issues, confine);
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
function resolveImports(own: ConfigMap, file: string, sources: Sources, issues: Issue[], confine: string | undefined): void {
  if (own.imports === undefined) return;
  if (!Array.isArray(own.imports)) {
    issues.push({ pos: sources.get('imports'), path: 'imports', message: 'expected a list of module paths' });
    delete own.imports;
    return;
  }
  const resolved: string[] = [];
  own.imports.forEach((written, index) => {
    const module = path.resolve(path.dirname(file), String(written));
    const outside = outsideProject('cannot import', String(written), module, confine);
    const pos: Position | undefined = sources.get(`imports.${index}`) ?? sources.get('imports');
    if (outside) issues.push({ pos, path: `imports.${index}`, message: outside });
    else resolved.push(module);
  });
  own.imports = resolved;
}

function mergeLoaded(base: LoadedConfig, over: LoadedConfig): LoadedConfig {
  const replaced = new Set<string>();
  const value = mergeValue(base.value, over.value, '', replaced) as ConfigMap;
  const sources = mergeSources(base.sources, over.sources, replaced);
  const imports = [...new Set([...asList(base.value.imports), ...asList(over.value.imports)])];
  if (imports.length) value.imports = imports;
  return { value, sources, files: [...over.files, ...base.files] };
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Deep merge of `over` onto `base`; `replaced` collects the paths where over replaced a subtree whole. */
function mergeValue(base: unknown, over: unknown, at: string, replaced: Set<string>): unknown {
  if (isMapValue(base) && isMapValue(over) && !changesComponentType(base, over)) {
    const out: ConfigMap = { ...base };
    // A key new to base replaces nothing: no path to build or remember (40,000 of them in a large file).
    for (const [key, value] of Object.entries(over)) out[key] = base[key] === undefined ? value : mergeValue(base[key], value, joinPath(at, key), replaced);
    return out;
  }
  replaced.add(at);
  return over;
}

function changesComponentType(base: ConfigMap, over: ConfigMap): boolean {
  return 'type' in base && 'type' in over && base.type !== over.type;
}

/**
 * The merged positions: over's wherever it wrote a value; base's elsewhere, except under a
 * subtree over replaced. Written into over's map, which its file's loading hands over, so a
 * large child costs one pass over its parent's positions, not a copy of its own.
 */
function mergeSources(base: Sources, over: Sources, replaced: Set<string>): Sources {
  for (const [p, pos] of base) if (!over.has(p) && !underAny(p, replaced)) over.set(p, pos);
  return over;
}

/** Whether `p` is one of `prefixes` or lies below one of them. */
function underAny(p: string, prefixes: Set<string>): boolean {
  if (prefixes.has('')) return true;
  for (let end = p.length; end > 0; end = p.lastIndexOf('.', end - 1)) {
    if (prefixes.has(p.slice(0, end))) return true;
  }
  return false;
}
