/** The board server's API, as the page calls it. */
import type { RunDetail, RunsResponse, ScalarsResponse, SweepResponse } from '../api.js';

async function getJson<T>(path: string, params: Record<string, string | number> = {}): Promise<T> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const response = await fetch(`${path}?${query}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body as T;
}

export const api = {
  runs: () => getJson<RunsResponse>('/api/runs'),
  run: (id: string) => getJson<RunDetail>('/api/run', { id }),
  scalars: (id: string, points: number, smoothing: number) => getJson<ScalarsResponse>('/api/scalars', { id, points, smoothing }),
  sweep: (id: string) => getJson<SweepResponse>('/api/sweep', { id }),
};

export function imageUrl(id: string, tag: string, step: number, index: number): string {
  return `/api/image?${new URLSearchParams({ id, tag, step: String(step), index: String(index) })}`;
}

export function csvUrl(id: string, tag: string): string {
  return `/api/csv?${new URLSearchParams({ id, tag })}`;
}
