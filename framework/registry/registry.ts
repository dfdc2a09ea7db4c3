/**
 * The registry: every component a YAML file can name, with the one declaration of its
 * parameters (a JSON Schema built with TypeBox). schema.json, `xp list` and validation are
 * all derived from what is registered here.
 */
import type { TObject } from '@sinclair/typebox';
import { XpError } from '../errors.js';
import { didYouMean } from '../suggest.js';

export const KINDS = ['block', 'model', 'schedule', 'sampler', 'callback', 'dataset', 'optimizer', 'trainer'] as const;
export type Kind = (typeof KINDS)[number];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ComponentClass = abstract new (...args: any[]) => unknown;

export interface ComponentSpec<P extends TObject = TObject> {
  /** One line: what the component does. Shown by `xp list` and in schema.json. */
  description: string;
  /** Its parameters: types, defaults, bounds and one-line descriptions. */
  params: P;
}

export interface Registration extends ComponentSpec {
  kind: Kind;
  name: string;
  target: ComponentClass;
  /** The file that registered it, for duplicate errors and `xp list`. */
  file: string;
}

export class RegistryError extends XpError {}

export class Registry {
  private readonly entries = new Map<Kind, Map<string, Registration>>(KINDS.map((k) => [k, new Map()]));

  add(registration: Registration): void {
    const byName = this.entries.get(registration.kind)!;
    const existing = byName.get(registration.name);
    if (existing) {
      throw new RegistryError(
        `${registration.kind} '${registration.name}' is registered twice: in ${existing.file} and in ${registration.file}`,
      );
    }
    byName.set(registration.name, registration);
  }

  /** Takes a registration out again (tests that register throw-away components). */
  remove(kind: Kind, name: string): void {
    this.entries.get(kind)!.delete(name);
  }

  has(kind: Kind, name: string): boolean {
    return this.entries.get(kind)!.has(name);
  }

  get(kind: Kind, name: string): Registration {
    const found = this.entries.get(kind)!.get(name);
    if (!found) {
      const names = this.names(kind);
      throw new RegistryError(
        `unknown ${kind} '${name}'${didYouMean(name, names)} (registered: ${names.join(', ') || 'none'})`,
      );
    }
    return found;
  }

  names(kind: Kind): string[] {
    return [...this.entries.get(kind)!.keys()].sort();
  }

  list(kind: Kind): Registration[] {
    return this.names(kind).map((name) => this.get(kind, name));
  }
}

/**
 * The one registry of the process. Decorators fill it when a component module is imported
 * (components/index.ts imports all built-ins; `imports:` and `--import` load user modules).
 * It lives on globalThis because a user module loaded through tsx may get its own copy of
 * this file (CommonJS next to our ES modules); both copies must fill the same registry.
 */
const REGISTRY_KEY = Symbol.for('xp.registry');
export const registry: Registry = ((globalThis as Record<symbol, Registry>)[REGISTRY_KEY] ??= new Registry());
