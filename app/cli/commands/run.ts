/** `xp run FILE` and `xp run --resume RUN_DIR`: resolve, pick the backend, assemble, train, record. */
import path from 'node:path';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { stringify } from 'yaml';
import type { ConfigMap } from '../../../framework/config/load.js';
import type { ResolvedExperiment } from '../../../framework/config/resolve.js';
import { requestedBackend, selectBackend } from '../../../framework/backend.js';
import type { Container } from 'inversify';
import { buildTrainer } from '../../../framework/container/build.js';
import { describeAdapter } from '../../../framework/webgpu.js';
import { nativeKernelStatus } from '../../../framework/kernels/native/onednn-kernels.js';
import { TOKENS } from '../../../framework/container/tokens.js';
import type { CheckpointSink, FitResult, Trainable, Trainer } from '../../../framework/interfaces.js';
import { assembleApp, resolveApp } from '../../experiment.js';
import { RunFolder, gitCommit, type LockOptions } from '../../../framework/run/run-folder.js';
import { describeHolder } from '../../../framework/run/run-lock.js';
import { RunRecorder } from '../../../framework/run/recorder.js';
import { SummaryWriter } from '../../../framework/records/tensorboard/writer.js';
import { packageRoot } from '../../../framework/paths.js';
import { StopSignal } from '../../../framework/run/stop-signal.js';
import {
  checkShapes, listCheckpoints, pruneCheckpoints, readCheckpoint, writeCheckpoint, type CheckpointData,
} from '../../../framework/run/checkpoint.js';
import { XpError } from '../../../framework/errors.js';
import { hparamsOf } from '../../../framework/run/hparams.js';
import { PLAIN_NAME_PATTERN } from '../../../framework/config/schema.js';
import { exitWithParent } from '../../sweep/launcher.js';

export interface RunOptions {
  set?: string[];
  import?: string[];
  backend?: string;
  name?: string;
  runsDir?: string;
  runDir?: string;
  resume?: string;
  /** Seconds the run folder stays locked after this process stops renewing (a dead machine's run). */
  leaseSeconds?: number;
}

/** The status a process exits with when another process took its run folder over (EX_TEMPFAIL). */
const TAKEN_OVER_EXIT = 75;

export async function run(file: string | undefined, opts: RunOptions): Promise<void> {
  exitWithParent();
  // First of all, so that Ctrl-C while the run starts is an interruption, not a crash.
  const stop = new StopSignal();
  try {
    await runUntilStopped(file, opts, stop);
  } finally {
    stop.dispose();
  }
}

async function runUntilStopped(file: string | undefined, opts: RunOptions, stop: StopSignal): Promise<void> {
  if ((opts.resume !== undefined) === (file !== undefined)) throw new XpError('give either an experiment FILE or --resume RUN_DIR');
  if (opts.name !== undefined && !new RegExp(PLAIN_NAME_PATTERN).test(opts.name)) {
    throw new XpError(`--name ${opts.name}: must be a plain folder name: letters, digits, '_', '.' and '-'`);
  }
  const lockOptions: LockOptions = { leaseSeconds: opts.leaseSeconds, onLost: (by) => stopWriting(by) };
  if (opts.resume !== undefined) return resume(opts.resume, opts, stop, lockOptions);
  // Everything that can be wrong with the experiment is found before a run folder exists.
  const config = await resolveApp(file!, opts);
  const backend = await selectBackend(requestedBackend(opts.backend, config.value.backend as string | undefined));
  const container = assembleApp(config);
  buildTrainer(container, config);
  if (stop.requested) return stoppedBeforeStart(stop);
  const folder = createFolder(config.value, backend.chosen, opts, lockOptions);
  await train(folder, { config, backend: backend.chosen, adapter: adapterOf(backend), container }, stop);
}

/** What training needs, all of it checked before the run folder changes. */
interface Prepared {
  config: ResolvedExperiment;
  backend: string;
  /** The WebGPU adapter, where the backend has one. */
  adapter?: string;
  container: Container;
  resumeFrom?: CheckpointData;
}

/**
 * Continues a run from its newest checkpoint; a run killed before its first checkpoint starts
 * over in its folder; a completed run is left as it is. Until training starts, nothing in the
 * folder changes: a resume that fails there leaves the run's record as it was.
 */
async function resume(dir: string, opts: RunOptions, stop: StopSignal, lockOptions: LockOptions): Promise<void> {
  const folder = RunFolder.open(dir);
  if (folder.status === 'completed') {
    console.error(`${dir} already completed (${folder.steps} steps); nothing to resume`);
    return;
  }
  folder.lockForWriting(lockOptions);
  let prepared: Prepared;
  try {
    // A resumed run reads the resolved config it saved, so it continues the same experiment.
    const config = await resolveApp(folder.configFile, opts);
    const backend = await selectBackend(requestedBackend(opts.backend, config.value.backend as string | undefined));
    const container = assembleApp(config);
    buildTrainer(container, config);
    const newest = listCheckpoints(folder.checkpointsDir).pop();
    const resumeFrom = newest ? readCheckpoint(newest) : undefined;
    if (resumeFrom) checkShapes(resumeFrom.tensors, 'model', container.get<Trainable>(TOKENS.Model).variables(), newest!);
    else console.error(`${dir} has no checkpoint yet: starting it over`);
    prepared = { config, backend: backend.chosen, adapter: adapterOf(backend), container, resumeFrom };
  } catch (err) {
    folder.release();
    throw err;
  }
  if (stop.requested) {
    folder.release();
    return stoppedBeforeStart(stop);
  }
  await train(folder, prepared, stop);
}

/**
 * Trains into a locked folder. Whatever happens, run.json ends true: completed, interrupted
 * (the process then exits 130 or 143), or failed with the first error's message.
 */
async function train(folder: RunFolder, { config, backend, adapter, container, resumeFrom }: Prepared, stop: StopSignal): Promise<void> {
  const experiment = config.value;
  const startStep = Number(resumeFrom?.state.step ?? 0);
  let result: FitResult | undefined;
  let failure: unknown;
  let writer: SummaryWriter | undefined;
  let recorder: RunRecorder | undefined;
  try {
    const kernels = kernelsOf(backend);
    folder.update({ status: 'running', backend, adapter, kernels, endedAt: undefined, error: undefined });
    console.error(`run folder: ${folder.dir}  (backend ${backend}${adapter ? `, adapter ${adapter}` : ''}${kernels ? `, kernels ${kernels}` : ''})`);
    // The steps after the checkpoint are recorded again; a run starting over records everything again.
    folder.trimRecordsAfter(resumeFrom ? startStep : -1);
    writer = new SummaryWriter(folder.dir, { mayWrite: () => folder.mayWrite() });
    if (resumeFrom) writer.sessionStart(startStep);
    else writer.text('config', `\`\`\`yaml\n${stringify(experiment)}\`\`\``, 0);
    writer.hparamsSessionStart({ hparams: hparamsOf(experiment), groupName: String(experiment.name), startTimeSecs: Date.now() / 1000 });
    recorder = new RunRecorder(writer, folder.samplesDir, () => folder.keepAlive());
    const trainer = container.get(TOKENS.Trainer) as Trainer;
    result = await trainer.fit({
      record: recorder,
      stopRequested: () => stop.requested,
      checkpoints: checkpointSink(folder, writer),
      resumeFrom,
    });
  } catch (err) {
    failure = err;
  }
  // Closed whatever happened; a failure here is reported only when it is the first.
  const closing = closeRecords(writer, result);
  failure ??= closing;
  if (failure === undefined) failure = recordEnd(folder, result!, recorder!);
  if (failure !== undefined) recordFailure(folder, failure);
  folder.release();
  if (failure !== undefined) throw failure;
  console.error(summaryLine(result!, folder));
  if (result!.status === 'interrupted') process.exitCode = stop.exitCode;
}

/** Ends the HParams session and closes the event file; returns the error where that fails. */
function closeRecords(writer: SummaryWriter | undefined, result: FitResult | undefined): unknown {
  try {
    writer?.hparamsSessionEnd({ status: result?.status === 'completed' ? 'success' : result ? 'running' : 'failure', endTimeSecs: Date.now() / 1000 });
  } catch (err) {
    closeQuietly(writer);
    return err;
  }
  try {
    writer?.close();
  } catch (err) {
    return err;
  }
  return undefined;
}

function closeQuietly(writer: SummaryWriter | undefined): void {
  try {
    writer?.close();
  } catch {
    // the first error is the one reported
  }
}

function recordEnd(folder: RunFolder, result: FitResult, recorder: RunRecorder): unknown {
  try {
    const { status, steps, lastLoss, stoppedBy } = result;
    folder.update({ status, steps, lastLoss, stoppedBy, metrics: recorder.lastScalars, endedAt: new Date().toISOString() });
    return undefined;
  } catch (err) {
    return err;
  }
}

/** Marks the run failed with the first error; where even that cannot be written, says so. */
function recordFailure(folder: RunFolder, failure: unknown): void {
  try {
    folder.update({ status: 'failed', error: (failure as Error).message, endedAt: new Date().toISOString() });
  } catch (err) {
    console.error(`xp: could not mark ${path.join(folder.dir, 'run.json')} as failed: ${(err as Error).message}`);
  }
}

function stoppedBeforeStart(stop: StopSignal): void {
  console.error('stopped before the run started; nothing was written');
  process.exitCode = stop.exitCode;
}

/** Another process holds the folder now: leave at once, writing nothing (the event writers check too). */
function stopWriting(by: Parameters<NonNullable<LockOptions['onLost']>>[0]): never {
  console.error(`xp: another process${by ? ` (${describeHolder(by)})` : ''} took this run folder over; stopping without writing more`);
  process.exit(TAKEN_OVER_EXIT);
}

/** On the wasm backend, what runs convolutions and matrix products: oneDNN where its kernels are registered. */
function kernelsOf(backend: string): string | undefined {
  if (backend !== 'wasm') return undefined;
  const native = nativeKernelStatus();
  return native.active ? `native (${native.library})` : 'wasm (XNNPACK)';
}

/** The adapter a WebGPU backend runs on, in words. */
function adapterOf(backend: Awaited<ReturnType<typeof selectBackend>>): string | undefined {
  return backend.adapter && describeAdapter(backend.adapter);
}

function createFolder(experiment: ConfigMap, backend: string, opts: RunOptions, lockOptions: LockOptions): RunFolder {
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
    lockOptions,
  );
}

/**
 * Checkpoints into the run folder. The event records up to the step reach the disk first, and
 * the folder must still be this process's when the checkpoint is renamed into place.
 */
function checkpointSink(folder: RunFolder, writer: SummaryWriter): CheckpointSink {
  return {
    async save(step, data, retention) {
      folder.assertWriter();
      writer.flushToDisk();
      const saved = await writeCheckpoint(folder.checkpointsDir, step, data, { beforeCommit: () => folder.assertWriter() });
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
