/** Module resolution hook (runs in Node's loader thread): the bare specifier 'xp' is this package. */
let entry = '';

export function initialize(data: { entry: string }): void {
  entry = data.entry;
}

export async function resolve(
  specifier: string,
  context: unknown,
  next: (specifier: string, context: unknown) => Promise<unknown>,
): Promise<unknown> {
  return specifier === 'xp' ? { url: entry, shortCircuit: true } : next(specifier, context);
}
