/**
 * Sweeps across machines: the sweep command puts one BullMQ job per trial on a Redis queue;
 * `xp worker` processes on any machine take trials and run them as `xp run` processes writing
 * to a runs folder all machines share. A worker killed mid-trial stops renewing its job's lock,
 * BullMQ hands the job to another worker, and the trial resumes from its last checkpoint.
 */
import os from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { XpError } from '../../framework/errors.js';
import { runTrial, type TrialOutcome, type TrialTask } from './launcher.js';
import type { Trial } from './trials.js';

const QUEUE = 'xp-trials';

export interface TrialJob {
  task: Omit<TrialTask, 'threadsPerTrial'>;
  trial: Trial;
}

export interface TrialJobResult {
  status: TrialOutcome['status'];
  metrics: Record<string, number>;
  worker: string;
}

/** redis://[:password@]host:port[/db] as ioredis options (BullMQ workers need maxRetriesPerRequest: null). */
export function connectionOf(url: string) {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new XpError(`--redis ${url}: expected redis://host:port`);
  }
  if (parsed.protocol !== 'redis:') throw new XpError(`--redis ${url}: expected redis://host:port`);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    password: parsed.password || undefined,
    db: Number(parsed.pathname.slice(1) || 0),
    maxRetriesPerRequest: null,
  };
}

/** Job ids are the sweep folder and trial name, so enqueueing a sweep twice adds nothing. */
function jobId(task: TrialJob['task'], trial: Trial): string {
  return `${task.sweepDir}/${trial.name}`.replace(/:/g, '_');
}

export async function enqueueTrials(url: string, task: TrialJob['task'], trials: Trial[]): Promise<string[]> {
  const queue = new Queue<TrialJob>(QUEUE, { connection: connectionOf(url) });
  try {
    const jobs = trials.map((trial) => ({
      name: trial.name,
      data: { task, trial },
      // A failed trial gets one more try; a worker that dies does not use up an attempt.
      opts: { jobId: jobId(task, trial), attempts: 2, removeOnComplete: false, removeOnFail: false },
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
  concurrency: number;
  /** Seconds after which a silent worker's job goes to another worker. */
  lockSeconds: number;
  onEvent: (line: string) => void;
}

/** Takes trials from the queue until SIGINT/SIGTERM, `concurrency` at a time. */
export async function runWorker(url: string, options: WorkerOptions): Promise<void> {
  const running = new Set<ChildProcess>();
  const id = `${os.hostname()}:${process.pid}`;
  const threadsPerTrial = Math.max(1, Math.floor(os.cpus().length / options.concurrency));
  const worker = new Worker<TrialJob, TrialJobResult>(
    QUEUE,
    async (job: Job<TrialJob>) => {
      const { task, trial } = job.data;
      const outcome = await runTrial(trial, { ...task, threadsPerTrial, onEvent: options.onEvent }, running);
      if (outcome.status !== 'completed' && outcome.status !== 'skipped') {
        throw new Error(`${trial.name} ended ${outcome.status}; see ${trial.name}.log in ${task.sweepDir}`);
      }
      return { status: outcome.status, metrics: outcome.info?.metrics ?? {}, worker: id };
    },
    {
      connection: connectionOf(url),
      concurrency: options.concurrency,
      lockDuration: options.lockSeconds * 1000,
      stalledInterval: (options.lockSeconds * 1000) / 2,
    },
  );
  options.onEvent(`worker ${id}: waiting for trials on ${url} (concurrency ${options.concurrency})`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      for (const child of running) child.kill('SIGINT');
      void worker.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
