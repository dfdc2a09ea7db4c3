/**
 * The board's view of RUNS_DIR: the run and sweep folders (looked for again at most every
 * second, so a new run appears by itself), each run's data read lazily and kept for the runs
 * looked at most recently, so that memory stays bounded however many runs there are.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RunsResponse, SweepResponse, SweepTrial } from './api.js';
import { indexFolders, readSmallFile, type FolderIndex } from './folders.js';
import { RunData } from './run-data.js';

/** Runs whose event data stay in memory at once. */
const KEPT_RUNS = 24;
const REINDEX_MS = 1000;

export class BoardStore {
  /** RUNS_DIR with its symbolic links resolved. */
  readonly root: string;
  private index: FolderIndex = { runs: new Map(), sweeps: new Map() };
  private indexedAt = -Infinity;
  private readonly runs = new Map<string, RunData>();
  /** Runs with event data loaded, least recently used first. */
  private readonly loaded: RunData[] = [];

  constructor(root: string) {
    this.root = fs.realpathSync(root);
  }

  list(): RunsResponse {
    this.reindex();
    return {
      root: path.basename(this.root),
      runs: [...this.index.runs.keys()].map((id) => {
        const run = this.runData(id)!;
        const summary = run.summary();
        if (summary.status === 'running') this.touched(run); // its summary read its event files
        return summary;
      }),
      sweeps: [...this.index.sweeps.keys()].map((id) => ({ id })),
    };
  }

  /** The run of this id, or undefined when there is none (ids are checked by the server first). */
  run(id: string): RunData | undefined {
    this.reindexIfUnknown(id, this.index.runs);
    const run = this.runData(id);
    return run && this.touched(run);
  }

  sweep(id: string): SweepResponse | undefined {
    this.reindexIfUnknown(id, this.index.sweeps);
    const dir = this.index.sweeps.get(id);
    if (!dir) return undefined;
    const trials = readSweepTrials(path.join(dir, 'sweep.json'));
    const rows: SweepTrial[] = trials.map(({ name, params }) => {
      const runId = `${id}/${name}`;
      const run = this.run(runId);
      if (!run) return { name, params, metrics: {} };
      const { status, steps, unreadable } = run.summary();
      return { name, params, run: runId, status, steps, metrics: unreadable ? {} : run.lastValues() };
    });
    return {
      id,
      params: [...new Set(rows.flatMap((row) => Object.keys(row.params)))],
      metrics: [...new Set(rows.flatMap((row) => Object.keys(row.metrics)))].sort(),
      trials: rows,
    };
  }

  private runData(id: string): RunData | undefined {
    const dir = this.index.runs.get(id);
    if (!dir) return undefined;
    let run = this.runs.get(id);
    if (!run) this.runs.set(id, (run = new RunData(id, dir)));
    return run;
  }

  /** Marks a run as just used; the least recently used beyond KEPT_RUNS forget their event data. */
  private touched(run: RunData): RunData {
    const at = this.loaded.indexOf(run);
    if (at >= 0) this.loaded.splice(at, 1);
    this.loaded.push(run);
    while (this.loaded.length > KEPT_RUNS) this.loaded.shift()!.forgetEvents();
    return run;
  }

  private reindex(): void {
    if (performance.now() - this.indexedAt < REINDEX_MS) return;
    this.index = indexFolders(this.root);
    this.indexedAt = performance.now();
    for (const id of this.runs.keys()) if (!this.index.runs.has(id)) this.runs.delete(id);
  }

  /** A run or sweep that appeared since the last look is found at once. */
  private reindexIfUnknown(id: string, known: Map<string, string>): void {
    if (!known.has(id)) this.reindex();
  }
}

/** The trials of sweep.json ({ trials: [{ name, params }] }), checked. */
function readSweepTrials(file: string): { name: string; params: Record<string, unknown> }[] {
  let sweep: unknown;
  try {
    sweep = JSON.parse(readSmallFile(file));
  } catch (err) {
    throw new BadFolder(`sweep.json: ${(err as Error).message}`);
  }
  const trials = (sweep as { trials?: unknown })?.trials;
  if (!Array.isArray(trials)) throw new BadFolder('sweep.json: no trials list');
  return trials.map((trial, i) => {
    const { name, params } = (trial ?? {}) as { name?: unknown; params?: unknown };
    if (typeof name !== 'string' || typeof params !== 'object' || params === null) throw new BadFolder(`sweep.json: trial ${i} has no name or params`);
    return { name, params: params as Record<string, unknown> };
  });
}

/** A folder whose files are malformed: the server answers 422 with the message. */
export class BadFolder extends Error {}
