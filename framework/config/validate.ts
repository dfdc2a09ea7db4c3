/**
 * Validation: ajv against the schema generated from the registry (defaults filled in), every
 * error translated to file:line:column, dotted path and what was expected, all at once.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { didYouMean } from '../suggest.js';
import type { Registry } from '../registry/registry.js';
import { joinPath, type Issue } from './issues.js';
import type { LoadedConfig } from './load.js';
import { buildSchema, NEEDED_BY, PLAIN_NAME_PATTERN, type JsonSchema } from './schema.js';
import type { Sources } from './yaml-source.js';

/** Validates in place, filling defaults; returns every problem. */
export function validateExperiment(config: LoadedConfig, registry: Registry): Issue[] {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
  const check = ajv.compile(buildSchema(registry));
  const schemaIssues = check(config.value) ? [] : (check.errors ?? []).flatMap((e) => toIssue(e, config.sources, config.value));
  const reported = new Set(schemaIssues.map((i) => i.path));
  const infinite = nonFiniteNumbers(config.value).filter((at) => !reported.has(at));
  return uniqueIssues([...schemaIssues, ...infinite.map((at) => issue(config.sources, at, at, `must be a finite number, got ${show(valueAt(config.value, at))}`))]);
}

/**
 * Paths of the infinite and NaN numbers in a config (YAML's .inf and .nan): JSON Schema's
 * bounds let Infinity through (`lr: .inf` is > 0), and no parameter means it.
 */
function nonFiniteNumbers(value: unknown, at = ''): string[] {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [at];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => nonFiniteNumbers(child, joinPath(at, key)));
}

/** A value as the user would recognize it: JSON, except the numbers JSON cannot write. */
function show(value: unknown): string {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value);
}

/** Names that become folder names (the experiment's, the sweep's). */
const PLAIN_NAME_MESSAGE = "must be a plain folder name: letters, digits, '_', '.' and '-', not starting with '.' or '-'";

function toIssue(error: ErrorObject, sources: Sources, root: unknown): Issue[] {
  const at = pointerToPath(error.instancePath);
  const value = valueAt(root, at);
  switch (error.keyword) {
    case 'if': // the matching `then` reports the real problem
      return [];
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty;
      const neededBy = error.parentSchema?.[NEEDED_BY] as string | undefined;
      if (neededBy) {
        return [issue(sources, neededBy, joinPath(at, key), `missing section '${key}': ${error.parentSchema?.description}`)];
      }
      return [issue(sources, at, joinPath(at, key), `missing required key '${key}'${describeSchema(error, key)}`)];
    }
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((error.parentSchema?.properties as object) ?? {});
      const owner = componentLabel(valueAt(root, at));
      return [
        issue(sources, joinPath(at, key), joinPath(at, key),
          `unknown key '${key}'${owner}${didYouMean(key, allowed)} (allowed: ${allowed.join(', ')})`),
      ];
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const title = error.parentSchema?.title as string | undefined;
      const what = `unknown ${title ?? 'value'}`;
      return [
        issue(sources, at, at, `${what} ${JSON.stringify(value)}${didYouMean(String(value), allowed)} (expected one of: ${allowed.join(', ')})`),
      ];
    }
    case 'pattern':
      if ((error.parentSchema as { pattern?: string } | undefined)?.pattern === PLAIN_NAME_PATTERN) {
        return [issue(sources, at, at, `${PLAIN_NAME_MESSAGE}, got ${show(value)}`)];
      }
      return [issue(sources, at, at, `${error.message ?? 'invalid'}, got ${show(value)}`)];
    default:
      return [issue(sources, at, at, `${error.message ?? 'invalid'}, got ${show(value)}`)];
  }
}

function issue(sources: Sources, positionPath: string, path: string, message: string): Issue {
  return { pos: nearestSource(sources, positionPath), path, message };
}

/** The position of a path, or of its closest ancestor that has one (defaults have none). */
export function nearestSource(sources: Sources, path: string) {
  for (let p = path; ; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const pos = sources.get(p);
    if (pos || p === '') return pos;
  }
}

function describeSchema(error: ErrorObject, key: string): string {
  const property = (error.parentSchema?.properties as Record<string, JsonSchema> | undefined)?.[key];
  return property?.description ? ` (${property.description})` : '';
}

function componentLabel(value: unknown): string {
  const type = (value as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' ? ` for '${type}'` : '';
}

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function valueAt(root: unknown, path: string): unknown {
  if (!path) return root;
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], root);
}

function uniqueIssues(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}|${i.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}
