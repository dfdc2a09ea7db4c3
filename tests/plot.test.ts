/**
 * `xp plot`: the event-file reader against our SummaryWriter (values, merging a resumed run's
 * files, a killed writer's tail, corruption), the chart as SVG and PNG, and the command end to end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decode as decodePng } from 'fast-png';
import { SummaryWriter } from '../framework/records/tensorboard/writer.js';
import { readScalars, type ScalarPoint } from '../framework/records/tensorboard/reader.js';
import { SERIES_COLORS, lineChartOption, type ChartLine } from '../app/plot/line-chart.js';
import { chartPng, chartSvg } from '../app/plot/render.js';
import { encodeGrayPng } from '../framework/records/png.js';
import { xp } from './support/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-plot-'));
let dirs = 0;

function tempDir(): string {
  const dir = path.join(tmp, `d${dirs++}`);
  fs.mkdirSync(dir);
  return dir;
}

/** A run folder as `xp run` leaves it, as far as `xp plot` looks: run.json and an event file. */
function writeRun(dir: string, curves: Record<string, ScalarPoint[]>): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'run.json'), '{}\n');
  const writer = new SummaryWriter(dir);
  for (const [tag, points] of Object.entries(curves)) for (const { step, value } of points) writer.scalar(tag, value, step);
  writer.close();
  return writer.file;
}

/** Points as the reader returns them: float32 values. */
function curve(steps: number[], value: (step: number) => number): ScalarPoint[] {
  return steps.map((step) => ({ step, value: Math.fround(value(step)) }));
}

// ---- reader ----

test('scalars come back per tag, sorted by step, as the float32 logged; other records are skipped', () => {
  const dir = tempDir();
  const writer = new SummaryWriter(dir);
  writer.sessionStart(0);
  writer.scalar('Training/MSE', 0.5, 2);
  writer.scalar('Training/MSE', 0.1, 1); // out of order on disk
  writer.scalar('Eval/FID', 123.25, 2);
  writer.image('Training/Images', encodeGrayPng(new Uint8Array(4), 2, 2), 2, 2, 2);
  writer.text('config', 'lr: 1e-4', 0);
  writer.histogram('weights', Float32Array.from([1, 2, 3]), 2);
  writer.hparamsSessionStart({ hparams: { lr: 1e-4 }, startTimeSecs: 0 });
  writer.scalar('Training/MSE', 0, 3);
  writer.close();
  const scalars = readScalars(dir);
  assert.equal([...scalars.keys()].sort(), ['Eval/FID', 'Training/MSE']);
  assert.equal(scalars.get('Training/MSE'), [
    { step: 1, value: Math.fround(0.1) },
    { step: 2, value: 0.5 },
    { step: 3, value: 0 },
  ]);
  assert.equal(scalars.get('Eval/FID'), [{ step: 2, value: 123.25 }]);
});

test("a resumed run's files merge in the order written, the later file winning at equal steps", () => {
  const dir = tempDir();
  const first = writeRun(dir, { loss: curve([0, 1, 2, 3, 4], (s) => s) });
  const second = writeRun(dir, { loss: curve([3, 4, 5], (s) => 10 * s) });
  // Counters 9 and 10: written in that order, though '.10' sorts before '.9' as plain text.
  fs.renameSync(first, path.join(dir, 'events.out.tfevents.1700000000.host.42.9'));
  fs.renameSync(second, path.join(dir, 'events.out.tfevents.1700000000.host.42.10'));
  assert.equal(readScalars(dir).get('loss'), [...curve([0, 1, 2], (s) => s), ...curve([3, 4, 5], (s) => 10 * s)]);
});

test("a record cut short at the end (a killed writer) ends the file quietly", () => {
  const dir = tempDir();
  const writer = new SummaryWriter(dir);
  [0, 1, 2].forEach((step) => writer.scalar('loss', step / 4, step));
  writer.flush();
  const whole = fs.statSync(writer.file).size;
  writer.scalar('loss', 9, 3);
  writer.close();
  const bytes = fs.readFileSync(writer.file);
  const lastRecord = bytes.length - whole;
  for (const kept of [5, 12, 20, lastRecord - 1]) {
    fs.writeFileSync(writer.file, bytes.subarray(0, whole + kept));
    assert.equal(readScalars(dir).get('loss'), curve([0, 1, 2], (s) => s / 4), `${kept} bytes of the last record`);
  }
});

test('a CRC mismatch in a complete record is an error naming the file and the byte', () => {
  const dir = tempDir();
  const writer = new SummaryWriter(dir);
  const recordAt = fs.statSync(writer.file).size; // after the file_version record
  writer.scalar('loss', 1, 0);
  writer.scalar('loss', 2, 1);
  writer.close();
  const bytes = fs.readFileSync(writer.file);
  for (const [byte, part] of [[recordAt + 14, 'data'], [recordAt, 'length']] as const) {
    const corrupt = Uint8Array.from(bytes);
    corrupt[byte] ^= 0x40;
    fs.writeFileSync(writer.file, corrupt);
    assert.throws(
      () => readScalars(dir),
      (err: Error) =>
        err.name === 'XpError' &&
        err.message === `${writer.file}: corrupt event record at byte ${recordAt} (the CRC of its ${part} does not match)`,
    );
  }
});

// ---- chart ----

/** The drawn lines of a chart's SVG, by stroke color: how many vertices each has. */
function drawnLines(svg: string): Map<string, number> {
  const lines = new Map<string, number>();
  for (const [, d, color] of svg.matchAll(/<path d="(M[^"]*)" fill="none"[^>]* stroke="(#[0-9a-f]{6})" stroke-width="2"/g)) {
    lines.set(color, (lines.get(color) ?? 0) + d.split(/[ML]/).length - 1);
  }
  return lines;
}

function countPixels(png: Uint8Array, hex: string): number {
  const color = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const { data, channels } = decodePng(png);
  let count = 0;
  for (let i = 0; i < data.length; i += channels) {
    if (data[i] === color[0] && data[i + 1] === color[1] && data[i + 2] === color[2]) count++;
  }
  return count;
}

const steps = [0, 400, 800, 1200, 1600, 2000];
const sparse: ChartLine[] = [
  { name: 'standard:Training/MSE', color: SERIES_COLORS[0], points: steps.map((s) => [s, 1 / (1 + s / 100)] as const) },
  { name: 'ema:Training/MSE', color: SERIES_COLORS[1], points: steps.map((s) => [s, 0.8 / (1 + s / 80)] as const) },
];
const size = { width: 640, height: 420 };

test('a chart renders to SVG with each line in its color through every point, and a resume mark', () => {
  const svg = chartSvg(lineChartOption(sparse, { title: 'EMA vs standard (MSE)', marks: [{ x: 800, label: 'resumed' }] }), size);
  assert.match(svg, /^<svg[^>]* width="640" height="420"/);
  assert.equal(drawnLines(svg), new Map([[SERIES_COLORS[0], 6], [SERIES_COLORS[1], 6]]));
  for (const text of ['EMA vs standard (MSE)', 'standard:Training/MSE', 'ema:Training/MSE', 'resumed']) assert.ok(svg.includes(`>${text}<`), text);
});

test('a PNG chart has the asked size and the lines in their colors; a log-y chart of a dense curve draws', () => {
  const png = chartPng(lineChartOption(sparse), size);
  const { width, height, depth } = decodePng(png);
  assert.equal({ width, height, depth }, { width: 640, height: 420, depth: 8 });
  for (const color of SERIES_COLORS.slice(0, 2)) assert.ok(countPixels(png, color) > 500, `pixels of ${color}`);
  assert.is(countPixels(png, SERIES_COLORS[2]), 0);
  const dense: ChartLine = { name: 'dense', color: SERIES_COLORS[2], points: Array.from({ length: 20_000 }, (_, i) => [i, 1 / (1 + i)] as const) };
  const svg = chartSvg(lineChartOption([dense], { logY: true }), size);
  assert.ok((drawnLines(svg).get(SERIES_COLORS[2]) ?? 0) > 100, 'the dense curve is drawn');
  assert.not.match(svg, /ecmeta_ssr_type="chart"/, 'no markers on a dense curve');
});

// ---- xp plot ----

test('xp plot draws a sweep\'s runs and writes their points as CSV; an unknown tag lists the known ones', () => {
  const sweep = tempDir();
  writeRun(path.join(sweep, 'trial-0-lr=1'), { 'Training/MSE': curve([0, 10], (s) => 0.5 / (1 + s / 10)), 'Eval/FID': curve([10], () => 0.1) });
  writeRun(path.join(sweep, 'trial-1-lr=2'), { 'Training/MSE': curve([0, 10], (s) => (s ? 0.125 : 0.75)) });
  fs.mkdirSync(path.join(sweep, 'not-a-run')); // no run.json: searched, nothing found
  const [png, csv] = [path.join(sweep, 'x.png'), path.join(sweep, 'x.csv')];

  const result = xp(['plot', sweep, '--tag', 'Training/MSE', '--tag', 'Eval/FID', '--out', png, '--csv', csv, '--title', 'lr']);
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stderr, 'note: trial-1-lr=2 has no Eval/FID');
  assert.is(
    fs.readFileSync(csv, 'utf8'),
    [
      'run,tag,step,value',
      'trial-0-lr=1,Training/MSE,0,0.5',
      'trial-0-lr=1,Training/MSE,10,0.25',
      'trial-0-lr=1,Eval/FID,10,0.1',
      'trial-1-lr=2,Training/MSE,0,0.75',
      'trial-1-lr=2,Training/MSE,10,0.125',
      '',
    ].join('\n'),
  );
  assert.is(decodePng(fs.readFileSync(png)).width, 800);
  const svg = path.join(sweep, 'x.svg');
  assert.is(xp(['plot', sweep, '--tag', 'Training/MSE', '--out', svg]).code, 0);
  assert.equal([...drawnLines(fs.readFileSync(svg, 'utf8')).values()], [2, 2], 'one line per trial');
  assert.match(xp(['plot', sweep, '--tag', 'Training/MSE', '--out', 'x.jpg']).stderr, 'xp: --out x.jpg: the chart is a PNG or an SVG');

  const unknown = xp(['plot', path.join(sweep, 'trial-1-lr=2'), '--tag', 'Training/MS', '--out', png]);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, "xp: --tag Training/MS: no run has points for it (scalar tags: Training/MSE); did you mean 'Training/MSE'?");
});

test.run();
