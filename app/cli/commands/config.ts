/** `xp validate` and `xp config`: resolve an experiment; print nothing but problems, or the resolved YAML. */
import { stringify } from 'yaml';
import { checkBuild } from '../../../framework/container/build.js';
import { requestedBackend, selectBackend } from '../../../framework/backend.js';
import { appBindings, resolveApp, type ExperimentOptions } from '../../experiment.js';

/** Valid: the schema accepts it and every component it names can be built (no data, no training). */
export async function validate(file: string, opts: ExperimentOptions): Promise<void> {
  const experiment = await resolveApp(file, opts);
  await selectBackend(requestedBackend(undefined, experiment.value.backend as string | undefined));
  checkBuild(experiment, appBindings());
  console.log(`${file}: valid`);
}

export async function printConfig(file: string, opts: ExperimentOptions): Promise<void> {
  const config = await resolveApp(file, opts);
  process.stdout.write(stringify(config.value));
}
