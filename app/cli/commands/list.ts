/** `xp list [KIND]`: every registered component with its parameters, straight from the registry. */
import path from 'node:path';
import { KINDS, requiredParams, type Kind, type Registration, type Registry } from '../../../framework/registry/index.js';
import { XpError } from '../../../framework/errors.js';
import { didYouMean } from '../../../framework/suggest.js';
import { loadModules } from '../../../framework/plugins/load.js';
import { registerBuiltins } from '../../../components/index.js';

interface ParamSchema {
  type?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  enum?: unknown[];
  $ref?: string;
  items?: ParamSchema;
  additionalProperties?: ParamSchema;
}

export async function list(kind: string | undefined, opts: { import?: string[] }): Promise<void> {
  const registry = registerBuiltins();
  await loadModules(registry, (opts.import ?? []).map((p) => path.resolve(p)));
  if (kind !== undefined && !(KINDS as readonly string[]).includes(kind)) {
    throw new XpError(`unknown kind '${kind}'${didYouMean(kind, KINDS)} (kinds: ${KINDS.join(', ')})`);
  }
  const kinds = kind ? [kind as Kind] : KINDS.filter((k) => registry.names(k).length);
  console.log(kinds.map((k) => describeKind(registry, k)).join('\n\n'));
}

function describeKind(registry: Registry, kind: Kind): string {
  const lines = [`${kind}s:`];
  for (const reg of registry.list(kind)) lines.push(...describeComponent(reg));
  return lines.join('\n');
}

function describeComponent(reg: Registration): string[] {
  const lines = [`  ${reg.name} — ${reg.description}`];
  const properties = (reg.params.properties ?? {}) as Record<string, ParamSchema>;
  const required = new Set(requiredParams(reg.params as Parameters<typeof requiredParams>[0]));
  for (const [name, schema] of Object.entries(properties)) {
    const facts = [typeOf(schema), bounds(schema), required.has(name) ? 'required' : defaultOf(schema)].filter(Boolean);
    lines.push(`      ${name} (${facts.join(', ')})${schema.description ? `: ${schema.description}` : ''}`);
  }
  return lines;
}

function typeOf(schema: ParamSchema): string {
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join('|');
  if (schema.$ref) return schema.$ref.replace('#/$defs/', '');
  if (schema.type === 'array' && schema.items) return `list of ${typeOf(schema.items)}`;
  if (schema.type === 'object' && schema.additionalProperties) return `map of ${typeOf(schema.additionalProperties)}`;
  return schema.type ?? 'any';
}

function bounds(schema: ParamSchema): string {
  const parts: string[] = [];
  if (schema.minimum !== undefined) parts.push(`>= ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) parts.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) parts.push(`<= ${schema.maximum}`);
  if (schema.exclusiveMaximum !== undefined) parts.push(`< ${schema.exclusiveMaximum}`);
  return parts.join(' and ');
}

function defaultOf(schema: ParamSchema): string {
  return schema.default === undefined ? 'optional' : `default ${JSON.stringify(schema.default)}`;
}
