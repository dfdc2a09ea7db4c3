/**
 * The registry: every component a YAML file can name, with the one declaration of its
 * parameters (a JSON Schema built with TypeBox). schema.json, `xp list` and validation are
 * all derived from a registry. A registry is an object that is passed in: the app fills one
 * from the modules it loads (components/index.ts for the built-ins, `imports:` for a user's),
 * worker threads fill their own from the same list of modules, and tests build their own.
 */
import type { TObject } from '@sinclair/typebox';
import { XpError } from '../errors.js';
import { didYouMean } from '../suggest.js';

export const KINDS = ['block', 'model', 'schedule', 'sampler', 'callback', 'dataset', 'optimizer', 'lr_schedule', 'objective'] as const;
export type Kind = (typeof KINDS)[number];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ComponentClass = abstract new (...args: any[]) => unknown;

export interface ComponentSpec<P extends TObject = TObject> {
  /** One line: what the component does. Shown by `xp list` and in schema.json. */
  description: string;
  /** Its parameters: types, defaults, bounds and one-line descriptions. */
  params: P;
  /** Top-level sections of the experiment the component needs (an objective's `schedule`, say). */
  needs?: string[];
}

export interface Registration extends ComponentSpec {
  kind: Kind;
  name: string;
  target: ComponentClass;
  /** The file that declared it, for duplicate errors and `xp list`. */
  file: string;
}

export class RegistryError extends XpError {}

/**
 * Where a decorator leaves a class's declaration. Symbol.for: a user module that tsx loads
 * with its own copy of the registry module still marks its classes with the same key.
 */
const DECLARATION = Symbol.for('xp.declaration');

type Declared = ComponentClass & { [DECLARATION]?: Registration };

/** Marks a class as a component (the decorators call this); registering it is a registry's job. */
export function declare(target: ComponentClass, registration: Omit<Registration, 'target'>): void {
  Object.defineProperty(target, DECLARATION, { value: { ...registration, target }, enumerable: false });
}

/** The declaration a decorator left on a class, if any. */
export function declarationOf(value: unknown): Registration | undefined {
  return typeof value === 'function' ? (value as Declared)[DECLARATION] : undefined;
}

export class Registry {
  private readonly entries = new Map<Kind, Map<string, Registration>>(KINDS.map((k) => [k, new Map()]));
  private readonly loaded: string[] = [];

  add(registration: Registration): void {
    const byName = this.entries.get(registration.kind)!;
    const existing = byName.get(registration.name);
    if (existing?.target === registration.target) return;
    if (existing) {
      throw new RegistryError(
        `${registration.kind} '${registration.name}' is registered twice: in ${existing.file} and in ${registration.file}`,
      );
    }
    byName.set(registration.name, registration);
  }

  /**
   * Registers every declared component a module exports; `specifier` (a file URL or path) is
   * remembered, so worker threads can fill a registry of their own from the same modules.
   */
  addModule(specifier: string, exports: Record<string, unknown>): void {
    const declared = Object.values(exports).map(declarationOf).filter((r): r is Registration => r !== undefined);
    for (const registration of declared) this.add(registration);
    if (!this.loaded.includes(specifier)) this.loaded.push(specifier);
  }

  /** The modules this registry was filled from, in order. */
  get modules(): string[] {
    return [...this.loaded];
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
