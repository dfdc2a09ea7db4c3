/** `xp validate` and `xp config`: resolve an experiment; print nothing but problems, or the resolved YAML. */
import { stringify } from 'yaml';
import { resolveExperiment, type ResolveOptions } from '../../../framework/config/resolve.js';

export interface ConfigCommandOptions {
  set?: string[];
  import?: string[];
}

function resolveOptions(opts: ConfigCommandOptions): ResolveOptions {
  return { overrides: opts.set ?? [], imports: opts.import ?? [] };
}

export async function validate(file: string, opts: ConfigCommandOptions): Promise<void> {
  await resolveExperiment(file, resolveOptions(opts));
  console.log(`${file}: valid`);
}

export async function printConfig(file: string, opts: ConfigCommandOptions): Promise<void> {
  const config = await resolveExperiment(file, resolveOptions(opts));
  process.stdout.write(stringify(config.value));
}
