/** `xp validate` and `xp config`: resolve an experiment; print nothing but problems, or the resolved YAML. */
import { stringify } from 'yaml';
import { checkBuild } from '../../../framework/container/build.js';
import { appBindings, resolveApp, type ExperimentOptions } from '../../experiment.js';

/** Valid: the schema accepts it and every component it names can be built (no data, no training). */
export async function validate(file: string, opts: ExperimentOptions): Promise<void> {
  checkBuild(await resolveApp(file, opts), appBindings());
  console.log(`${file}: valid`);
}

export async function printConfig(file: string, opts: ExperimentOptions): Promise<void> {
  const config = await resolveApp(file, opts);
  process.stdout.write(stringify(config.value));
}
