/**
 * Keys that would reach Object.prototype when a config is merged or overridden (`__proto__`)
 * or shadow the object model (`constructor`, `prototype`). They are refused wherever a key
 * enters xp from outside: YAML files, `--set` paths and values, queue jobs.
 */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN.has(key);
}

export function forbiddenKeyMessage(key: string): string {
  return `the key '${key}' is not allowed (it would change JavaScript's object model)`;
}

/** The dotted path of the first forbidden key anywhere in `value` (own keys only), or undefined. */
export function findForbiddenKey(value: unknown, at = ''): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of Object.keys(value)) {
    const here = at ? `${at}.${key}` : key;
    if (isForbiddenKey(key)) return here;
    const inner = findForbiddenKey((value as Record<string, unknown>)[key], here);
    if (inner) return inner;
  }
  return undefined;
}
