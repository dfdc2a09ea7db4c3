/**
 * Command-line overrides, applied after `extends`:
 *   path=value   set a key whose parent exists (value parsed as YAML, so 1e-4 is a number)
 *   +path=value  set a key, creating missing parents (adds a callback, say)
 *   ~path        delete a key
 * A path into nothing is an error that suggests the nearest existing key.
 */
import { parseYamlValue } from './yaml-source.js';
import { didYouMean } from '../suggest.js';
import { ConfigError, joinPath, type Issue, type Position } from './issues.js';
import { isMapValue, type LoadedConfig } from './load.js';
import { findForbiddenKey, forbiddenKeyMessage, isForbiddenKey } from './plain-keys.js';

export interface Override {
  op: 'set' | 'add' | 'delete';
  path: string[];
  value?: unknown;
  /** The argument as typed, for error messages. */
  text: string;
}

export function overridePosition(text: string): Position {
  return { file: `--set ${text}` };
}

export function parseOverride(text: string): Override {
  const fail = (message: string): never => {
    throw new ConfigError([{ pos: overridePosition(text), path: '', message }]);
  };
  if (text.startsWith('~')) return { op: 'delete', path: splitPath(text.slice(1), fail), text };
  const eq = text.indexOf('=');
  if (eq < 0) return fail('expected path=value, +path=value or ~path');
  const add = text.startsWith('+');
  const pathText = text.slice(add ? 1 : 0, eq);
  let value: unknown;
  try {
    value = parseYamlValue(text.slice(eq + 1));
  } catch (err) {
    return fail(`the value is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const forbidden = findForbiddenKey(value);
  if (forbidden) fail(`in the value, ${forbiddenKeyMessage(forbidden.split('.').pop()!)}`);
  return { op: add ? 'add' : 'set', path: splitPath(pathText, fail), value: value ?? null, text };
}

function splitPath(text: string, fail: (m: string) => never): string[] {
  const parts = text.split('.');
  if (parts.some((p) => p === '')) fail(`'${text}' is not a dotted path`);
  const forbidden = parts.find(isForbiddenKey);
  if (forbidden) fail(forbiddenKeyMessage(forbidden));
  return parts;
}

/** Applies overrides in order; returns every path error. */
export function applyOverrides(config: LoadedConfig, overrides: Override[]): Issue[] {
  const issues: Issue[] = [];
  for (const o of overrides) {
    const problem = applyOne(config.value, o);
    const dotted = o.path.join('.');
    if (problem) issues.push({ pos: overridePosition(o.text), path: dotted, message: problem });
    else markSources(config, dotted, o);
  }
  return issues;
}

function applyOne(root: Record<string, unknown>, o: Override): string | undefined {
  let node: unknown = root;
  let walked = '';
  for (const key of o.path.slice(0, -1)) {
    const child = childOf(node, key);
    if (child === undefined && o.op === 'add' && isMapValue(node)) node[key] = {};
    else if (!isContainer(child)) return missing(node, key, walked, o.op);
    node = childOf(node, key);
    walked = joinPath(walked, key);
  }
  const last = o.path[o.path.length - 1];
  if (o.op === 'delete') {
    if (childOf(node, last) === undefined) return missing(node, last, walked, o.op);
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete (node as Record<string, unknown>)[last];
    return undefined;
  }
  if (Array.isArray(node)) {
    const index = Number(last);
    if (!Number.isInteger(index) || index < 0 || index > node.length) return `no item ${last} in a list of ${node.length}`;
    node[index] = o.value;
  } else {
    (node as Record<string, unknown>)[last] = o.value;
  }
  return undefined;
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return typeof v === 'object' && v !== null;
}

function childOf(node: unknown, key: string): unknown {
  if (Array.isArray(node)) return node[Number(key)];
  return isMapValue(node) ? node[key] : undefined;
}

function missing(node: unknown, key: string, walked: string, op: Override['op']): string {
  const where = walked ? `'${walked}'` : 'the experiment';
  if (!isContainer(node)) return `${where} is not a map or list`;
  const keys = Array.isArray(node) ? node.map((_, i) => String(i)) : Object.keys(node);
  const hint = op === 'set' ? ' (use +path=value to add it)' : '';
  return `${where} has no '${key}'${didYouMean(key, keys)}${hint}`;
}

/** An overridden value's position is the --set argument itself. */
function markSources(config: LoadedConfig, dotted: string, o: Override): void {
  for (const p of [...config.sources.keys()]) {
    if (p === dotted || p.startsWith(`${dotted}.`)) config.sources.delete(p);
  }
  if (o.op !== 'delete') config.sources.set(dotted, overridePosition(o.text));
}
