/** `xp run FILE`: resolve, pick the backend, assemble, train, and record everything in a run folder. */
import path from 'node:path';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { stringify } from 'yaml';
import { resolveExperiment } from '../../config/resolve.js';
import { requestedBackend, selectBackend } from '../../backend.js';
import { assemble } from '../../container/assembly.js';
import { TOKENS } from '../../container/tokens.js';
import type { Trainer } from '../../interfaces.js';
import { RunFolder, gitCommit } from '../../run/run-folder.js';
import { RunRecorder } from '../../run/recorder.js';
import { SummaryWriter } from '../../records/tensorboard/writer.js';
import { packageRoot } from '../../paths.js';
import { StopSignal } from '../../run/stop-signal.js';

export interface RunOptions {
  set?: string[];
  import?: string[];
  backend?: string;
  name?: string;
  runsDir?: string;
}

export async function run(file: string, opts: RunOptions): Promise<void> {
  const config = await resolveExperiment(file, { overrides: opts.set, imports: opts.import });
  const experiment = config.value;
  const backend = await selectBackend(requestedBackend(opts.backend, experiment.backend as string | undefined));
  const folder = RunFolder.create(opts.runsDir ?? process.env.XP_RUNS_DIR ?? 'runs', experiment, {
    backend: backend.chosen,
    versions: { xp: packageVersion(), tfjs: tf.version.tfjs, node: process.version },
    gitCommit: gitCommit(),
    seed: Number(experiment.seed),
  }, opts.name);
  console.error(`run folder: ${folder.dir}  (backend ${backend.chosen})`);
  const writer = new SummaryWriter(folder.dir);
  writer.text('config', `\`\`\`yaml\n${stringify(experiment)}\`\`\``, 0);
  const stop = new StopSignal();
  try {
    const trainer = assemble(experiment).get(TOKENS.Trainer) as Trainer;
    const result = await trainer.fit({
      record: new RunRecorder(writer, folder.samplesDir),
      stopRequested: () => stop.requested,
      log: () => {},
    });
    folder.update({ status: result.status, steps: result.steps, lastLoss: result.lastLoss, endedAt: new Date().toISOString() });
    console.error(`${result.status}: ${result.steps} steps, last loss ${result.lastLoss?.toFixed(4)}; records in ${folder.dir}`);
  } catch (err) {
    folder.update({ status: 'failed', error: (err as Error).message, endedAt: new Date().toISOString() });
    throw err;
  } finally {
    stop.dispose();
    writer.close();
  }
}

function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;
}
