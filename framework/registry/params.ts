/**
 * What components use to declare parameters: TypeBox's `Type` builds the JSON Schema and its
 * `Static` gives the TypeScript type, so each parameter is declared once.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { Kind } from './registry.js';
import type { ComponentConfig } from '../interfaces.js';

export { Type, type Static };

export type { ComponentConfig } from '../interfaces.js';

/** A parameter that is itself a component of `kind` (validated by that component's schema). */
export function componentRef(kind: Kind, options: { description: string }): TSchema & { static: ComponentConfig } {
  return Type.Unsafe<ComponentConfig>({ $ref: `#/$defs/${kind}`, ...options });
}

/** A string parameter with a fixed set of values (a plain `enum`, which gives clear errors). */
export function stringEnum<const T extends readonly string[]>(values: T, options: { description: string; default?: T[number] }) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/**
 * The parameters a user must write: TypeBox lists every non-optional key as required, but a
 * key with a default is filled in by validation, so editors and `xp list` must not demand it.
 */
export function requiredParams(params: { required?: string[]; properties?: Record<string, { default?: unknown }> }): string[] {
  return (params.required ?? []).filter((key) => params.properties?.[key]?.default === undefined);
}
