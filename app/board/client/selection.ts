/** A run the page shows: its summary, its color, and what has been fetched of it. */
import type { RunDetail, RunSummary, ScalarsResponse } from '../api.js';

export interface ShownRun {
  id: string;
  /** The id less the folders every shown run shares. */
  label: string;
  color: string;
  summary: RunSummary;
  detail?: RunDetail;
  scalars?: ScalarsResponse;
}

export type XAxis = 'step' | 'relative' | 'wall';

export interface ChartSettings {
  x: XAxis;
  logY: boolean;
  /** 0 (none) to 0.99. */
  smoothing: number;
}

/** Labels for ids: each without the leading folders all of them share (the last part stays); one id alone keeps its last two parts. */
export function shortLabels(ids: string[]): string[] {
  if (ids.length < 2) return ids.map((id) => id.split('/').slice(-2).join('/'));
  const parts = ids.map((id) => id.split('/'));
  let shared = 0;
  while (parts.every((p) => shared < p.length - 1 && p[shared] === parts[0][shared])) shared++;
  return parts.map((p) => p.slice(shared).join('/'));
}
