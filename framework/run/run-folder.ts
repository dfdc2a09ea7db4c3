/**
 * A run's folder: runs/<experiment>/<timestamp>[-name]/ with the resolved config.yaml,
 * run.json (status, backend, versions, git commit, seed, times, steps, last loss), the
 * TensorBoard event files, samples/ and checkpoints/. Every file is written atomically, and
 * by one process at a time: the one holding the folder's lock (run-lock.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { isDiskFull, overwriteInPlace, removeTemporaries, writeFileAtomic } from '../fsutil.js';
import { XpError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { ConfigMap } from '../config/load.js';
import { trimEventsAfter } from '../records/tensorboard/trim.js';
import { RunLock, type LockHolder } from './run-lock.js';

const RUN_FILE = 'run.json';
const STATUSES = ['running', 'completed', 'failed', 'interrupted'];

/** How a writer holds a run folder: its lease, and what to do when another process takes it over. */
export interface LockOptions {
  leaseSeconds?: number;
  onLost?: (by: LockHolder | undefined) => void;
}

export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';

export interface RunInfo {
  experiment: string;
  status: RunStatus;
  backend: string;
  /** The WebGPU adapter the run (or its latest resumption) used, on the webgpu backend. */
  adapter?: string;
  /**
   * On the wasm backend, what ran the convolutions and matrix products in the run (or its latest
   * resumption): `native (oneDNN ...)` or `wasm (XNNPACK)`. Speeds differ by 2-10x between them.
   */
  kernels?: string;
  versions: { xp: string; tfjs: string; node: string };
  gitCommit?: string;
  seed: number;
  startedAt: string;
  endedAt?: string;
  steps: number;
  lastLoss?: number;
  /** Set where training ended at its time budget (trainer.max_minutes). */
  stoppedBy?: string;
  /** The last value of each scalar tag (`Training/MSE`, `Training/EMA_MSE`, ...). */
  metrics?: Record<string, number>;
  error?: string;
}

export class RunFolder {
  private lock?: RunLock;

  private constructor(
    readonly dir: string,
    private info: RunInfo,
  ) {}

  /**
   * A new run folder, locked for this process: `dir` exactly (a sweep's trial), or
   * runs/<experiment>/<timestamp>[-name]. A `dir` that already holds a run is refused.
   */
  static create(
    where: { runsRoot: string; name?: string } | { dir: string },
    config: ConfigMap,
    info: Omit<RunInfo, 'experiment' | 'status' | 'startedAt' | 'steps'>,
    lockOptions: LockOptions = {},
  ): RunFolder {
    const experiment = String(config.name);
    const dir = 'dir' in where ? where.dir : uniqueDir(path.join(where.runsRoot, experiment, stampedName(where.name)));
    const folder = new RunFolder(dir, { ...info, experiment, status: 'running', startedAt: new Date().toISOString(), steps: 0 });
    // The layout first (creating what exists changes nothing), so a reader never sees half of it.
    fs.mkdirSync(folder.samplesDir, { recursive: true });
    fs.mkdirSync(folder.checkpointsDir, { recursive: true });
    folder.lockForWriting(lockOptions);
    if (fs.existsSync(path.join(dir, RUN_FILE))) {
      folder.release();
      throw new XpError(`${dir} already holds a run: continue it with xp run --resume ${dir}, or choose another folder`);
    }
    writeFileAtomic(folder.configFile, stringify(config));
    folder.save();
    return folder;
  }

  /** An existing run folder, to read or (after lockForWriting) to resume. */
  static open(dir: string): RunFolder {
    return new RunFolder(dir, readRunInfo(dir));
  }

  /**
   * Makes this process the folder's only writer (RunLockedError if another one is live), then
   * clears what a killed writer left half-done: temporary files and checkpoint folders.
   */
  lockForWriting(options: LockOptions = {}): void {
    this.lock = RunLock.acquire(this.dir, options);
    try {
      // What the previous writer recorded last, not what was read before the lock was ours.
      if (fs.existsSync(path.join(this.dir, RUN_FILE))) this.info = readRunInfo(this.dir);
    } catch (err) {
      this.release();
      throw err;
    }
    for (const dir of [this.dir, this.samplesDir, this.checkpointsDir]) removeTemporaries(dir);
  }

  /** Keeps this process's lease on the folder alive; cheap enough to call every step. */
  keepAlive(): void {
    this.lock?.renewIfDue();
  }

  /** Whether this process may still write here (false once another process took the folder over). */
  mayWrite(): boolean {
    return this.lock?.held() ?? false;
  }

  /** Throws unless this process still holds the folder: checked before anything is committed. */
  assertWriter(): void {
    if (!this.lock) throw new Error(`${this.dir} was not locked for writing`);
    this.lock.assertHeld();
  }

  /**
   * Cuts the records back to `step` (a checkpoint's; -1 for a run starting over): event records
   * and sample images of later steps go, since the resumed run records those steps again.
   */
  trimRecordsAfter(step: number): void {
    this.assertWriter();
    trimEventsAfter(this.dir, step);
    for (const name of fs.existsSync(this.samplesDir) ? fs.readdirSync(this.samplesDir) : []) {
      const imageStep = /-step(\d+)\.png$/.exec(name)?.[1];
      if (imageStep !== undefined && Number(imageStep) > step) fs.rmSync(path.join(this.samplesDir, name));
    }
  }

  release(): void {
    this.lock?.release();
  }

  get configFile(): string {
    return path.join(this.dir, 'config.yaml');
  }

  get status(): RunStatus {
    return this.info.status;
  }

  get samplesDir(): string {
    return path.join(this.dir, 'samples');
  }

  get checkpointsDir(): string {
    return path.join(this.dir, 'checkpoints');
  }

  get steps(): number {
    return this.info.steps;
  }

  update(changes: Partial<RunInfo>): void {
    this.info = { ...this.info, ...changes };
    this.save();
  }

  private save(): void {
    this.assertWriter();
    const file = path.join(this.dir, RUN_FILE);
    const text = `${JSON.stringify(this.info, null, 2)}\n`;
    try {
      writeFileAtomic(file, text);
    } catch (err) {
      // A full disk must not leave the record saying "running": the old file's blocks still hold it.
      if (!isDiskFull(err) || !fs.existsSync(file)) throw err;
      overwriteInPlace(file, text);
    }
  }
}

/**
 * A run's status as seen from outside: run.json's, except that a run whose run.json says
 * running while no live process holds its lock is `crashed` (a kill -9, an OOM kill, a lost
 * machine: nothing was left to write the final status). `xp run --resume` continues it.
 */
export type ObservedStatus = RunStatus | 'crashed';

export function observedStatus(dir: string, info: Pick<RunInfo, 'status'>): ObservedStatus {
  return info.status === 'running' && !RunLock.liveHolder(dir) ? 'crashed' : info.status;
}

/** A folder's run.json, checked: an XpError naming the file when it is missing or not a run record. */
export function readRunInfo(dir: string): RunInfo {
  const file = path.join(dir, RUN_FILE);
  if (!fs.existsSync(file)) throw new XpError(`${dir} is not a run folder: it has no ${RUN_FILE}`);
  let info: Partial<RunInfo>;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RunInfo>;
  } catch (err) {
    throw new XpError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof info !== 'object' || info === null || !STATUSES.includes(String(info.status)) || !Number.isInteger(info.steps)) {
    throw new XpError(`${file}: not a run record (no valid status and steps)`);
  }
  return info as RunInfo;
}

function stampedName(name?: string): string {
  const stamp = timestamp(new Date());
  return name ? `${stamp}-${name}` : stamp;
}

export function timestamp(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

/** Two runs started in the same second get -2, -3, ... rather than sharing a folder. */
function uniqueDir(dir: string): string {
  let candidate = dir;
  for (let i = 2; fs.existsSync(candidate); i++) candidate = `${dir}-${i}`;
  return candidate;
}

/** The commit xp runs from, where it is a git checkout. */
export function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

/**
 * Run folders (those holding run.json) at or below `dir`, in name order with numbers compared
 * as numbers (trial-9 before trial-10); a run folder's own subfolders are not searched.
 */
export function runFoldersBelow(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  if (fs.existsSync(path.join(dir, RUN_FILE))) return [dir];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .flatMap((name) => runFoldersBelow(path.join(dir, name)));
}
