/**
 * A run's folder: runs/<experiment>/<timestamp>[-name]/ with the resolved config.yaml,
 * run.json (status, backend, versions, git commit, seed, times, steps, last loss), the
 * TensorBoard event files, samples/ and checkpoints/. Every file is written atomically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../fsutil.js';
import { XpError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { ConfigMap } from '../config/load.js';

export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';

export interface RunInfo {
  experiment: string;
  status: RunStatus;
  backend: string;
  /** The WebGPU adapter the run (or its latest resumption) used, on the webgpu backend. */
  adapter?: string;
  versions: { xp: string; tfjs: string; node: string };
  gitCommit?: string;
  seed: number;
  startedAt: string;
  endedAt?: string;
  steps: number;
  lastLoss?: number;
  /** The last value of each scalar tag (`Training/MSE`, `Training/EMA_MSE`, ...). */
  metrics?: Record<string, number>;
  error?: string;
}

export class RunFolder {
  private constructor(
    readonly dir: string,
    private info: RunInfo,
  ) {}

  /** A new run folder: `dir` exactly (a sweep's trial), or runs/<experiment>/<timestamp>[-name]. */
  static create(
    where: { runsRoot: string; name?: string } | { dir: string },
    config: ConfigMap,
    info: Omit<RunInfo, 'experiment' | 'status' | 'startedAt' | 'steps'>,
  ): RunFolder {
    const experiment = String(config.name);
    const dir = 'dir' in where ? where.dir : uniqueDir(path.join(where.runsRoot, experiment, stampedName(where.name)));
    fs.mkdirSync(path.join(dir, 'samples'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
    writeFileAtomic(path.join(dir, 'config.yaml'), stringify(config));
    const folder = new RunFolder(dir, { ...info, experiment, status: 'running', startedAt: new Date().toISOString(), steps: 0 });
    folder.save();
    return folder;
  }

  /** An existing run folder, to resume. */
  static open(dir: string): RunFolder {
    const file = path.join(dir, 'run.json');
    if (!fs.existsSync(file)) throw new XpError(`${dir} is not a run folder: it has no run.json`);
    return new RunFolder(dir, JSON.parse(fs.readFileSync(file, 'utf8')) as RunInfo);
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

  update(changes: Partial<RunInfo>): void {
    this.info = { ...this.info, ...changes };
    this.save();
  }

  private save(): void {
    writeFileAtomic(path.join(this.dir, 'run.json'), `${JSON.stringify(this.info, null, 2)}\n`);
  }
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
  if (fs.existsSync(path.join(dir, 'run.json'))) return [dir];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .flatMap((name) => runFoldersBelow(path.join(dir, name)));
}
