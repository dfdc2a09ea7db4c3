/**
 * Sweeps across machines: the sweep command puts one BullMQ job per trial on a Redis queue;
 * `xp worker` processes on any machine take trials and run them as `xp run` processes writing
 * to a runs folder all machines share. A worker killed mid-trial stops renewing its job's lock,
 * BullMQ hands the job to another worker, and the trial resumes from its last checkpoint.
 *
 * A job is untrusted input: it names a sweep folder under the worker's runs folder and a trial
 * index, nothing else (no paths, no arguments), optionally signed with a shared secret. The
 * worker reads the experiment and the trial from the sweep's own files and checks them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { XpError } from '../../framework/errors.js';
import { isInside, loadExperiment } from '../../framework/config/load.js';
import { runTrial, threadsPerTrial, trialDir, type TrialOutcome } from './launcher.js';
import { readSweepFiles, type SweepFiles } from './sweep-files.js';
import type { Trial } from './trials.js';

const QUEUE = 'xp-trials';

/** The shared secret jobs are signed with (HMAC-SHA256), where one is set. */
export const QUEUE_SECRET = 'XP_QUEUE_SECRET';

/** All a job carries: which trial of which sweep (a folder below the runs folder), and its signature. */
export interface TrialJob {
  sweep: string;
  trial: number;
  signature?: string;
}

export interface TrialJobResult {
  status: TrialOutcome['status'];
  metrics: Record<string, number>;
  worker: string;
}

/** A sweep's id: its folder below the runs folder, in plain path segments (no `..`, nothing hidden). */
const SWEEP_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(\/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,7}$/;
const JOB_FIELDS = new Set(['sweep', 'trial', 'signature']);

/** redis://[user:password@]host:port[/db], or rediss:// for TLS, as ioredis options (BullMQ workers need maxRetriesPerRequest: null). */
export function connectionOf(url: string) {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new XpError(`--redis ${url}: expected redis://HOST:PORT or rediss://HOST:PORT`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new XpError(`--redis ${url}: expected redis://HOST:PORT or rediss://HOST:PORT`);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: decodeURIComponent(parsed.username) || undefined,
    password: decodeURIComponent(parsed.password) || undefined,
    db: Number(parsed.pathname.slice(1) || 0),
    ...(parsed.protocol === 'rediss:' ? { tls: { servername: parsed.hostname } } : {}),
    maxRetriesPerRequest: null,
  };
}

export function signJob(secret: string, sweep: string, trial: number): string {
  return crypto.createHmac('sha256', secret).update(`xp-trial\n${sweep}\n${trial}`).digest('hex');
}

/** The job's sweep and trial, or an XpError saying what is wrong with it. */
export function parseTrialJob(data: unknown, secret: string | undefined): { sweep: string; trial: number } {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new XpError('the job is not a map');
  const extra = Object.keys(data).find((key) => !JOB_FIELDS.has(key));
  if (extra !== undefined) throw new XpError(`the job has a field '${extra}' (a job holds only sweep, trial and signature)`);
  const { sweep, trial, signature } = data as Partial<TrialJob>;
  if (typeof sweep !== 'string' || !SWEEP_ID.test(sweep)) throw new XpError(`sweep ${JSON.stringify(sweep)} is not a plain folder path below the runs folder`);
  if (!Number.isInteger(trial) || (trial as number) < 0) throw new XpError(`trial ${JSON.stringify(trial)} is not a trial index`);
  if (secret !== undefined) {
    const expected = Buffer.from(signJob(secret, sweep, trial!), 'hex');
    const given = typeof signature === 'string' && /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : undefined;
    if (!given || !crypto.timingSafeEqual(expected, given)) throw new XpError('the job is not signed with this worker\'s secret');
  }
  return { sweep, trial: trial! };
}

/** The sweep folder a job names: below the runs folder once links are followed, and holding a sweep. */
export function sweepOfJob(runsRoot: string, sweep: string): SweepFiles {
  const dir = path.join(runsRoot, sweep);
  if (!fs.existsSync(dir) || !isInside(dir, runsRoot)) throw new XpError(`sweep ${sweep}: no such sweep folder in ${runsRoot}`);
  return readSweepFiles(dir);
}

/**
 * Files the trial's experiment would read or run from outside its sweep's folder: what it
 * extends and imports, and what the trial's own record (when resuming) imports.
 */
export function filesOutsideSweep(sweep: SweepFiles, trial: Trial): string[] {
  const configs = [sweep.experiment, path.join(trialDir({ sweepDir: sweep.dir }, trial), 'config.yaml')].filter((f) => fs.existsSync(f));
  return configs.flatMap((file) => {
    const loaded = loadExperiment(file, { allowOutsideProject: true });
    const named = [...loaded.files.slice(1), ...((loaded.value.imports as string[] | undefined) ?? [])];
    return named.filter((p) => !isInside(p, sweep.dir));
  });
}

/** Job ids are the sweep and trial name, so enqueueing a sweep twice adds nothing. */
function jobId(sweep: string, trial: Trial): string {
  return `${sweep}/${trial.name}`;
}

/** Queues the trials of the sweep in `sweepDir`, a folder below `runsRoot`; signs them where a secret is given. */
export async function enqueueTrials(url: string, runsRoot: string, sweepDir: string, trials: Trial[], secret?: string): Promise<string[]> {
  const sweep = path.relative(path.resolve(runsRoot), path.resolve(sweepDir)).split(path.sep).join('/');
  if (!SWEEP_ID.test(sweep)) throw new XpError(`${sweepDir} is not a plain folder below the runs folder ${runsRoot}`);
  const queue = new Queue<TrialJob>(QUEUE, { connection: connectionOf(url) });
  try {
    const jobs = trials.map((trial) => ({
      name: trial.name,
      data: { sweep, trial: trial.index, ...(secret ? { signature: signJob(secret, sweep, trial.index) } : {}) },
      // A failed trial gets one more try; a worker that dies does not use up an attempt.
      opts: { jobId: jobId(sweep, trial), attempts: 2, removeOnComplete: false, removeOnFail: false },
    }));
    await queue.addBulk(jobs);
    return jobs.map((j) => j.opts.jobId);
  } finally {
    await queue.close();
  }
}

/** Waits until every job has completed or failed for good, reporting each change. */
export async function waitForTrials(url: string, ids: string[], onEvent: (line: string) => void): Promise<void> {
  const connection = connectionOf(url);
  const queue = new Queue<TrialJob, TrialJobResult>(QUEUE, { connection });
  const events = new QueueEvents(QUEUE, { connection });
  const pending = new Set(ids);
  const name = (id: string) => id.slice(id.lastIndexOf('/') + 1);
  try {
    await events.waitUntilReady();
    const done = new Promise<void>((resolve) => {
      const settle = (id: string) => {
        pending.delete(id);
        if (!pending.size) resolve();
      };
      events.on('active', ({ jobId: id }) => pending.has(id) && onEvent(`${name(id)}: running`));
      events.on('completed', ({ jobId: id }) => {
        if (!pending.has(id)) return;
        onEvent(`${name(id)}: completed`);
        settle(id);
      });
      events.on('failed', async ({ jobId: id, failedReason }) => {
        if (!pending.has(id)) return;
        const job = await queue.getJob(id);
        const final = !job || (await job.getState()) === 'failed';
        onEvent(`${name(id)}: failed (${failedReason})${final ? '' : ', retrying'}`);
        if (final) settle(id);
      });
    });
    // Jobs that finished before we started listening.
    for (const id of ids) {
      const state = await (await queue.getJob(id))?.getState();
      if (state === 'completed' || state === 'failed') pending.delete(id);
    }
    if (pending.size) await done;
  } finally {
    await events.close();
    await queue.close();
  }
}

export interface WorkerOptions {
  /** The runs folder shared with the sweep command: the only place trials are taken from and written to. */
  runsRoot: string;
  concurrency: number;
  /** Seconds after which a silent worker's job goes to another worker; also the trial folder's lease. */
  lockSeconds: number;
  /** Run trials whose experiment reads or imports files outside its sweep's folder. */
  allowImports: boolean;
  /** Refuse jobs not signed with this secret. */
  secret?: string;
  onEvent: (line: string) => void;
}

/** Takes trials from the queue until SIGINT/SIGTERM, `concurrency` at a time. */
export async function runWorker(url: string, options: WorkerOptions): Promise<void> {
  /** Each job's trial process (a set, as runTrial keeps it). */
  const byJob = new Map<string, Set<ChildProcess>>();
  const stopChildren = (jobIds: Iterable<string>) => {
    for (const jobId of jobIds) for (const child of byJob.get(jobId) ?? []) child.kill('SIGINT');
  };
  const id = `${os.hostname()}:${process.pid}`;
  const runsRoot = path.resolve(options.runsRoot);
  const worker = new Worker<TrialJob, TrialJobResult>(
    QUEUE,
    async (job: Job<TrialJob>) => {
      const { sweep, trial } = acceptJob(job, runsRoot, options);
      const children = new Set<ChildProcess>();
      byJob.set(job.id!, children);
      try {
        const task = { experiment: sweep.experiment, sweepDir: sweep.dir, threadsPerTrial: threadsPerTrial(options.concurrency), leaseSeconds: options.lockSeconds, allowOutsideProject: options.allowImports };
        const outcome = await runTrial(trial, { ...task, onEvent: options.onEvent }, children);
        if (outcome.status !== 'completed' && outcome.status !== 'skipped') {
          throw new Error(`${trial.name} ended ${outcome.status}; see ${trial.name}.log in ${sweep.dir}`);
        }
        return { status: outcome.status, metrics: outcome.info?.metrics ?? {}, worker: id };
      } finally {
        byJob.delete(job.id!);
      }
    },
    {
      connection: connectionOf(url),
      concurrency: options.concurrency,
      lockDuration: options.lockSeconds * 1000,
      stalledInterval: (options.lockSeconds * 1000) / 2,
    },
  );
  // The queue gave the trial to another worker: ask ours to checkpoint and stop (its folder lock keeps the other waiting).
  worker.on('lockRenewalFailed', stopChildren);
  worker.on('error', (err) => options.onEvent(`worker ${id}: ${err.message}`));
  options.onEvent(`worker ${id}: waiting for trials on ${url} (concurrency ${options.concurrency}, runs folder ${runsRoot})`);
  if (options.secret === undefined) {
    options.onEvent(`worker ${id}: jobs are not signed; set ${QUEUE_SECRET} here and where sweeps are queued, or anyone who can write to this Redis can queue trials of the sweeps in ${runsRoot}`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      stopChildren(byJob.keys());
      void worker.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** The job's sweep and trial, checked; a job that fails a check fails for good, with the reason. */
function acceptJob(job: Job<TrialJob>, runsRoot: string, options: WorkerOptions): { sweep: SweepFiles; trial: Trial } {
  try {
    const request = parseTrialJob(job.data, options.secret);
    const sweep = sweepOfJob(runsRoot, request.sweep);
    const trial = sweep.trials[request.trial];
    if (!trial) throw new XpError(`sweep ${request.sweep} has no trial ${request.trial}`);
    const outside = options.allowImports ? [] : filesOutsideSweep(sweep, trial);
    if (outside.length) {
      throw new XpError(`the experiment reads or imports ${outside.join(', ')}, outside the sweep's folder; start the worker with --allow-imports to allow it`);
    }
    return { sweep, trial };
  } catch (err) {
    if (!(err instanceof XpError)) throw err;
    options.onEvent(`rejected job ${job.id}: ${err.message}`);
    throw new UnrecoverableError(`rejected: ${err.message}`);
  }
}
