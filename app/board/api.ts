/** What the board's server answers, shared by the server and the page (types only). */

/** As in framework/run/run-folder.ts, which the page cannot import (it reads files). */
export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';
/** run.json's status, or crashed where it says running and no live process holds the run's lock. */
export type ObservedStatus = RunStatus | 'crashed';

export interface RunSummary {
  /** The run folder's path below RUNS_DIR, '/'-separated: how every request names it. */
  id: string;
  /** Changes whenever run.json or an event file changes: the page refetches the run then. */
  version: string;
  /** Why the run cannot be shown (a malformed run.json or event file); the rest is then absent. */
  unreadable?: string;
  experiment?: string;
  status?: ObservedStatus;
  backend?: string;
  steps?: number;
  lastLoss?: number;
  startedAt?: string;
  endedAt?: string;
  /** What failed, for a failed run. */
  error?: string;
  /** The steps of the checkpoints in checkpoints/. */
  checkpoints?: number[];
}

export interface SweepSummary {
  /** The sweep folder's path below RUNS_DIR (the one holding sweep.json). */
  id: string;
}

export interface RunsResponse {
  root: string;
  runs: RunSummary[];
  sweeps: SweepSummary[];
}

export interface ImageEntry {
  step: number;
  /** The image's place among those logged under its tag at that step. */
  index: number;
  /** Seconds since the Unix epoch. */
  wallTime: number;
  width: number;
  height: number;
}

export interface RunDetail {
  id: string;
  version: string;
  unreadable?: string;
  /** The resolved experiment, config.yaml as written. */
  config?: string;
  /** Each scalar tag with its number of points. */
  scalarTags: { tag: string; points: number }[];
  /** Each image tag's images, in step order. */
  images: Record<string, ImageEntry[]>;
  /** Where the run was resumed: the step and the time of each restart. */
  resumes: { step: number; wallTime: number }[];
}

/** One tag's points, downsampled for a chart. */
export interface ScalarCurve {
  /** Points recorded, before downsampling. */
  total: number;
  step: number[];
  /** Seconds since the Unix epoch. */
  wallTime: number[];
  value: number[];
  /** The exponential moving average over all points, at the points kept; with smoothing > 0. */
  smoothed?: number[];
}

export interface ScalarsResponse {
  id: string;
  version: string;
  curves: Record<string, ScalarCurve>;
}

export interface SweepTrial {
  name: string;
  params: Record<string, unknown>;
  /** The trial's run, once its folder exists. */
  run?: string;
  status?: ObservedStatus;
  steps?: number;
  /** The last value of each scalar tag. */
  metrics: Record<string, number>;
}

export interface SweepResponse {
  id: string;
  /** The swept paths, such as callbacks.ema.beta. */
  params: string[];
  /** Every metric any trial has. */
  metrics: string[];
  trials: SweepTrial[];
}
