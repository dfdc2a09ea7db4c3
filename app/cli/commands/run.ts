/** `xp run FILE` and `xp run --resume RUN_DIR`: resolve, pick the backend, assemble, train, record. */
import path from 'node:path';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { stringify } from 'yaml';
import { resolveExperiment } from '../../../framework/config/resolve.js';
import type { ConfigMap } from '../../../framework/config/load.js';
import { requestedBackend, selectBackend } from '../../../framework/backend.js';
import { describeAdapter } from '../../../framework/webgpu.js';
import { assemble } from '../../../framework/container/assembly.js';
import { TOKENS } from '../../../framework/container/tokens.js';
import type { CheckpointSink, FitResult, Trainer } from '../../../framework/interfaces.js';
import { RunFolder, gitCommit } from '../../../framework/run/run-folder.js';
import { RunRecorder } from '../../../framework/run/recorder.js';
import { SummaryWriter } from '../../../framework/records/tensorboard/writer.js';
import { packageRoot } from '../../../framework/paths.js';
import { StopSignal } from '../../../framework/run/stop-signal.js';
import { pruneCheckpoints, readCheckpoint, resolveCheckpoint, writeCheckpoint } from '../../../framework/run/checkpoint.js';
import { XpError } from '../../../framework/errors.js';
import { hparamsOf } from '../../../framework/run/hparams.js';
import { exitWithParent } from '../../sweep/launcher.js';

export interface RunOptions {
  set?: string[];
  import?: string[];
  backend?: string;
  name?: string;
  runsDir?: string;
  runDir?: string;
  resume?: string;
}

export async function run(file: string | undefined, opts: RunOptions): Promise<void> {
  exitWithParent();
  const resuming = opts.resume !== undefined;
  if (resuming === (file !== undefined)) throw new XpError('give either an experiment FILE or --resume RUN_DIR');
  const folderToResume = resuming ? RunFolder.open(opts.resume!) : undefined;
  // A resumed run reads the resolved config it saved, so it continues the same experiment.
  const config = await resolveExperiment(folderToResume?.configFile ?? file!, { overrides: opts.set, imports: opts.import });
  const experiment = config.value;
  const backend = await selectBackend(requestedBackend(opts.backend, experiment.backend as string | undefined));
  const folder = folderToResume ?? createFolder(experiment, backend.chosen, opts);
  const resumeFrom = folderToResume ? readCheckpoint(resolveCheckpoint(folderToResume.dir)) : undefined;
  const adapter = backend.adapter && describeAdapter(backend.adapter);
  folder.update({ status: 'running', backend: backend.chosen, adapter, endedAt: undefined });
  console.error(`run folder: ${folder.dir}  (backend ${backend.chosen}${adapter ? `, adapter ${adapter}` : ''})`);

  const writer = new SummaryWriter(folder.dir);
  const startStep = Number(resumeFrom?.state.step ?? 0);
  if (resumeFrom) writer.sessionStart(startStep);
  else writer.text('config', `\`\`\`yaml\n${stringify(experiment)}\`\`\``, 0);
  writer.hparamsSessionStart({ hparams: hparamsOf(experiment), groupName: String(experiment.name), startTimeSecs: Date.now() / 1000 });
  const stop = new StopSignal();
  const recorder = new RunRecorder(writer, folder.samplesDir);
  let result: FitResult | undefined;
  try {
    const trainer = assemble(experiment).get(TOKENS.Trainer) as Trainer;
    result = await trainer.fit({
      record: recorder,
      stopRequested: () => stop.requested,
      checkpoints: checkpointSink(folder),
      resumeFrom,
    });
    folder.update({
      status: result.status,
      steps: result.steps,
      lastLoss: result.lastLoss,
      metrics: recorder.lastScalars,
      endedAt: new Date().toISOString(),
    });
    console.error(summaryLine(result, folder));
  } catch (err) {
    folder.update({ status: 'failed', error: (err as Error).message, endedAt: new Date().toISOString() });
    throw err;
  } finally {
    writer.hparamsSessionEnd({ status: result?.status === 'completed' ? 'success' : result ? 'running' : 'failure', endTimeSecs: Date.now() / 1000 });
    stop.dispose();
    writer.close();
  }
}

function createFolder(experiment: ConfigMap, backend: string, opts: RunOptions): RunFolder {
  const where = opts.runDir ? { dir: opts.runDir } : { runsRoot: opts.runsDir ?? process.env.XP_RUNS_DIR ?? 'runs', name: opts.name };
  return RunFolder.create(
    where,
    experiment,
    {
      backend,
      versions: { xp: packageVersion(), tfjs: tf.version.tfjs, node: process.version },
      gitCommit: gitCommit(),
      seed: Number(experiment.seed),
    },
  );
}

function checkpointSink(folder: RunFolder): CheckpointSink {
  return {
    async save(step, data, retention) {
      const saved = await writeCheckpoint(folder.checkpointsDir, step, data);
      if (retention?.keepLast) pruneCheckpoints(folder.checkpointsDir, retention.keepLast, new Set(retention.keep ?? []));
      folder.update({ steps: step });
      return saved;
    },
  };
}

function summaryLine(result: FitResult, folder: RunFolder): string {
  const loss = result.lastLoss === undefined ? '' : `, last loss ${result.lastLoss.toFixed(4)}`;
  const resume = result.status === 'interrupted' ? `\nresume with: xp run --resume ${folder.dir}` : '';
  return `${result.status}: ${result.steps} steps${loss}; records in ${folder.dir}${resume}`;
}

function packageVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;
}
