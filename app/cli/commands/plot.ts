/**
 * `xp plot DIR... --tag TAG --out FILE.png|FILE.svg [--csv FILE.csv] [--title T] [--log-y]`:
 * the scalar curves of one run, or of every run below a folder (a sweep's), as the board's line
 * chart rendered to a file, and optionally as a table, so that figures and numbers in reports
 * come from the run records.
 */
import fs from 'node:fs';
import path from 'node:path';
import { XpError } from '../../../framework/errors.js';
import { writeFileAtomic } from '../../../framework/fsutil.js';
import { SERIES_COLORS, lineChartOption, type ChartLine } from '../../plot/line-chart.js';
import { chartPng, chartSvg } from '../../plot/render.js';
import { eventFiles, readScalars, type ScalarPoint, type Scalars } from '../../../framework/records/tensorboard/reader.js';
import { didYouMean } from '../../../framework/suggest.js';
import { csvCell, float32Text } from '../../../framework/records/csv.js';
import { runFoldersBelow } from '../../../framework/run/run-folder.js';

export interface PlotOptions {
  tag: string[];
  out: string;
  csv?: string;
  title?: string;
  logY?: boolean;
}

interface Run {
  /** The run folder's path below the folder the DIRs have in common. */
  label: string;
  scalars: Scalars;
}

interface Curve {
  name: string;
  run: string;
  tag: string;
  points: ScalarPoint[];
}

const CHART_SIZE = { width: 800, height: 480 };

export function plot(dirs: string[], opts: PlotOptions): void {
  const format = path.extname(opts.out).toLowerCase();
  if (format !== '.png' && format !== '.svg') throw new XpError(`--out ${opts.out}: the chart is a PNG or an SVG; name it .png or .svg`);
  const curves = collectCurves(findRuns(dirs), opts.tag);
  if (opts.logY) checkPositive(curves);
  const option = lineChartOption(curves.map(chartLine), { title: opts.title, logY: opts.logY });
  writeFileAtomic(opts.out, format === '.svg' ? chartSvg(option, CHART_SIZE) : chartPng(option, CHART_SIZE));
  console.error(`wrote ${opts.out} (${curves.length} curve${curves.length === 1 ? '' : 's'})`);
  if (opts.csv) {
    writeFileAtomic(opts.csv, csvTable(curves));
    console.error(`wrote ${opts.csv}`);
  }
}

// ---- runs ----

/** The run folders in or below each DIR, each once. */
function findRuns(dirs: string[]): Run[] {
  const found = new Set<string>();
  for (const dir of dirs) {
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new XpError(`${dir}: no such folder`);
    const runDirs = runFoldersBelow(path.resolve(dir)).filter((runDir) => eventFiles(runDir).length > 0);
    if (runDirs.length === 0) throw new XpError(`${dir}: no run folder (one with run.json and event files) in or below it`);
    runDirs.forEach((runDir) => found.add(runDir));
  }
  const base = commonFolder(dirs.map((dir) => path.resolve(dir)));
  // A DIR that is itself the run has no path below it; its own name stands in.
  return [...found].map((dir) => ({ label: path.relative(base, dir) || path.basename(dir), scalars: readScalars(dir) }));
}

/** The deepest folder that holds all of `dirs` (absolute paths). */
function commonFolder(dirs: string[]): string {
  const parts = dirs.map((dir) => dir.split(path.sep));
  let depth = 0;
  while (parts.every((p) => depth < p.length && p[depth] === parts[0][depth])) depth++;
  return parts[0].slice(0, depth).join(path.sep) || path.sep;
}

// ---- curves ----

/** A curve per run and tag that has points; named by the tag alone when there is one run. */
function collectCurves(runs: Run[], tags: string[]): Curve[] {
  for (const tag of tags) {
    if (!runs.some((run) => run.scalars.get(tag)?.length)) throw new XpError(unknownTag(tag, runs));
  }
  return runs.flatMap((run) =>
    tags.flatMap((tag) => {
      const points = run.scalars.get(tag) ?? [];
      if (points.length === 0) {
        console.error(`note: ${run.label} has no ${tag}`);
        return [];
      }
      return [{ name: runs.length === 1 ? tag : `${run.label}:${tag}`, run: run.label, tag, points }];
    }),
  );
}

function chartLine(curve: Curve, i: number): ChartLine {
  return { name: curve.name, color: SERIES_COLORS[i % SERIES_COLORS.length], points: curve.points.map((p) => [p.step, p.value] as const) };
}

function unknownTag(tag: string, runs: Run[]): string {
  const known = [...new Set(runs.flatMap((run) => [...run.scalars.keys()]))].sort();
  if (known.length === 0) return `--tag ${tag}: the runs hold no scalars`;
  return `--tag ${tag}: no run has points for it (scalar tags: ${known.join(', ')})${didYouMean(tag, known)}`;
}

function checkPositive(curves: Curve[]): void {
  for (const curve of curves) {
    const bad = curve.points.find((p) => p.value <= 0);
    if (bad) throw new XpError(`--log-y: ${curve.name} is ${bad.value} at step ${bad.step}; a log axis shows only values above 0`);
  }
}

// ---- table ----

function csvTable(curves: Curve[]): string {
  const rows = [
    ['run', 'tag', 'step', 'value'],
    ...curves.flatMap((c) => c.points.map((p) => [c.run, c.tag, String(p.step), float32Text(p.value)])),
  ];
  return rows.map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
}
