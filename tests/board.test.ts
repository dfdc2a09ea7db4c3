/**
 * `xp board` end to end: a real `xp board` process on run folders made by the CLI (a short
 * training and a 4-trial sweep), a live run written by the SummaryWriter as the page watches,
 * and malformed ones; the page driven in headless Chromium.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { SummaryWriter } from '../framework/records/tensorboard/writer.js';
import { RunFolder } from '../framework/run/run-folder.js';
import { SERIES_COLORS } from '../app/plot/line-chart.js';
import type { SweepResponse } from '../app/board/api.js';
import { xpAsync } from './support/cli.js';
import { launchChromium } from './support/browser.js';
import { startBoardProcess, type RunningBoard } from './support/board.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-board-'));
const runs = path.join(tmp, 'runs');
/** A run outside RUNS_DIR, linked from inside it: never to be served. */
const outside = path.join(tmp, 'outside');

const tiny = ['--set', 'dataset.batch_size=4', '--set', '~callbacks.final_samples'];
let board: RunningBoard;
let browser: Browser;
let page: Page;
let trainingRun: string;
let sweepId: string;
let live: { writer: SummaryWriter; id: string };

test.before(async () => {
  try {
    await makeRunsAndStartBoard();
  } catch (err) {
    console.error(err); // uvu reports a failing hook as failed tests without its error
    throw err;
  }
});

async function makeRunsAndStartBoard(): Promise<void> {
  const [training, sweep] = await Promise.all([
    xpAsync([
      'run', 'experiments/quickstart.yaml', '--runs-dir', runs, ...tiny, '--set', 'trainer.max_steps=6',
      '--set', 'callbacks.samples.every_steps=2', '--set', 'callbacks.ema_samples.every_steps=2', '--set', 'callbacks.samples.n=4',
      '--set', 'callbacks.ema_samples.n=4', '--set', 'sampler.steps=2', '--set', 'callbacks.checkpoints.every_steps=3',
    ]),
    xpAsync([
      'sweep', 'experiments/sweep-ema-beta.yaml', '--runs-dir', runs, '--parallel', '2', ...tiny, '--set', 'trainer.max_steps=3',
      '--set', 'callbacks.ema.warmup_steps=0', '--set', 'callbacks.samples.every_steps=0', '--set', 'callbacks.ema_samples.every_steps=0',
    ]),
  ]);
  assert.is(training.code, 0, training.stderr);
  assert.is(sweep.code, 0, sweep.stderr);
  trainingRun = `quickstart/${fs.readdirSync(path.join(runs, 'quickstart'))[0]}`;
  sweepId = `sweep-ema-beta/${fs.readdirSync(path.join(runs, 'sweep-ema-beta'))[0]}`;

  const liveDir = path.join(runs, 'live', 'run-1');
  RunFolder.create({ dir: liveDir }, { name: 'live' }, { backend: 'wasm', versions: { xp: '0', tfjs: '0', node: '0' }, seed: 0 });
  live = { writer: new SummaryWriter(liveDir), id: 'live/run-1' };
  writeLivePoints(0, 5);

  writeResumedRun(path.join(runs, 'resumed', 'run-1'));

  fs.mkdirSync(path.join(runs, 'broken', 'bad-json'), { recursive: true });
  fs.writeFileSync(path.join(runs, 'broken', 'bad-json', 'run.json'), '{"status": "completed",');
  corruptCopy(path.join(runs, trainingRun), path.join(runs, 'broken', 'bad-events'));
  fs.mkdirSync(outside);
  fs.cpSync(path.join(runs, trainingRun), path.join(outside, 'run'), { recursive: true });
  fs.symlinkSync(outside, path.join(runs, 'linked'));

  board = await startBoardProcess(runs);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
}

test.after(async () => {
  live?.writer.close();
  await browser?.close();
  board?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A run stopped after step 5 and resumed from its checkpoint at step 3: a second event file repeats steps 3 to 5. */
function writeResumedRun(dir: string): void {
  const folder = RunFolder.create({ dir }, { name: 'resumed' }, { backend: 'wasm', versions: { xp: '0', tfjs: '0', node: '0' }, seed: 0 });
  const first = new SummaryWriter(dir);
  for (let step = 0; step <= 5; step++) first.scalar('Training/MSE', 1, step);
  first.close();
  const second = new SummaryWriter(dir);
  second.sessionStart(3);
  for (let step = 3; step <= 8; step++) second.scalar('Training/MSE', 0.5, step);
  second.close();
  folder.update({ status: 'completed', steps: 8 });
}

function writeLivePoints(from: number, to: number): void {
  for (let step = from; step < to; step++) live.writer.scalar('Training/MSE', 1 / (1 + step), step);
  live.writer.flush();
}

/** A copy of a run with one flipped byte in the middle of its event file. */
function corruptCopy(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
  const file = fs.readdirSync(to).find((name) => name.includes('tfevents'))!;
  const bytes = fs.readFileSync(path.join(to, file));
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  fs.writeFileSync(path.join(to, file), bytes);
}

/** The page loaded afresh, showing what `hash` says. */
async function open(hash: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${board.url}#${hash}`);
  await page.waitForSelector('#tree li.run');
}

const runItem = (id: string) => `#tree li.run[data-id="${id}"]`;

/** The drawn lines (2 pixels wide) of a chart card: vertices per stroke color. */
function drawnLines(tag: string): Promise<Record<string, number>> {
  return page.$$eval(`[data-tag="${tag}"] .chart path[stroke-width="2"][fill="none"]`, (paths) =>
    Object.fromEntries(paths.map((p) => [p.getAttribute('stroke'), (p.getAttribute('d') ?? '').split(/[ML]/).length - 1])),
  );
}

function rawGet(requestPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(board.url);
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, path: requestPath, headers, method }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    });
    request.on('error', reject).end();
  });
}

test('the run tree lists every run with its status; malformed runs are marked, linked folders left out', async () => {
  await open('');
  const status = (id: string) => page.textContent(`${runItem(id)} .status`);
  assert.is(await status(trainingRun), 'completed');
  const trials = await page.$$eval(`li.folder[data-id="${sweepId}"] li.run`, (items) => items.map((li) => li.getAttribute('data-id')));
  assert.equal(trials.map((id) => id!.split('/').at(-1)), ['trial-0-beta=0.99', 'trial-1-beta=0.992', 'trial-2-beta=0.995', 'trial-3-beta=0.999']);
  for (const id of trials) assert.is(await status(id!), 'completed');
  assert.is(await status(live.id), 'running');
  assert.match((await page.textContent(`${runItem(live.id)} .run-meta`))!, '4 steps');
  assert.is(await status('broken/bad-json'), 'unreadable');
  assert.match((await page.textContent(`${runItem('broken/bad-json')} .run-meta`))!, 'run.json: not JSON');
  assert.is(await page.$('[data-id^="linked"]'), null, 'nothing below the symbolic link');
  assert.match((await page.textContent(`${runItem(trainingRun)} .run-meta`))!, /6 steps · loss [\d.]+ · wasm/);

  await page.fill('#filter', 'trial-2');
  assert.equal(await page.$$eval('#tree li.run', (items) => items.map((li) => li.getAttribute('data-id'))), [`${sweepId}/trial-2-beta=0.995`]);
});

test('a chart overlays the chosen runs, each in its color through all its points; a broken run does not break it', async () => {
  const trial = `${sweepId}/trial-0-beta=0.99`;
  await open(`run=${trainingRun}&run=${trial}&run=broken/bad-events`);
  await page.waitForSelector('[data-tag="Training/MSE"] .chart path[stroke-width="2"]');
  assert.equal(await drawnLines('Training/MSE'), { [SERIES_COLORS[0]]: 6, [SERIES_COLORS[1]]: 3 });
  assert.match((await page.textContent('[data-tag="Training/MSE"] .chart-info'))!, /6 points.*3 points/);
  const broken = await page.textContent('#details tr[data-run="broken/bad-events"]');
  assert.match(broken!, /unreadable.*corrupt event record at byte \d+ \(the CRC of its (data|length) does not match\)/);

  await page.check('#log-y');
  await page.locator('[data-tag="Training/MSE"] .chart', { hasText: '0.1' }).waitFor();
  await page.selectOption('#x-axis', 'relative');
  await page.locator('[data-tag="Training/MSE"] .chart', { hasText: 'seconds since start' }).waitFor();
  assert.equal(Object.values(await drawnLines('Training/MSE')), [6, 3], 'the same points against time');
});

test('a resumed run\'s event files draw one curve, the later file winning where they overlap, marked where it resumed', async () => {
  await open('run=resumed/run-1');
  await page.waitForSelector('[data-tag="Training/MSE"] .chart path[stroke-width="2"][fill="none"]');
  assert.equal(Object.values(await drawnLines('Training/MSE')), [9], 'steps 0 to 8, once each');
  assert.match((await page.textContent('[data-tag="Training/MSE"] .chart'))!, 'resumed');
  const csv = await rawGet('/api/csv?id=resumed%2Frun-1&tag=Training%2FMSE');
  assert.equal(csv.body.trim().split('\n').slice(1).map((row) => row.split(',')[2]), ['1', '1', '1', '0.5', '0.5', '0.5', '0.5', '0.5', '0.5']);
});

test('an image tag\'s slider goes through every recorded image; standard and EMA grids side by side', async () => {
  await open(`run=${trainingRun}&tab=images`);
  const card = `.image-card[data-tag="Training/ImagesOverTime"]`;
  await page.waitForSelector(`${card} img[src]`);
  assert.equal(await page.$$eval('.image-card', (cards) => cards.map((c) => c.getAttribute('data-tag'))), ['Training/ImagesOverTime', 'Training/EMAImagesOverTime']);
  const shown = () => page.$eval(`${card} img`, (img) => /[?&]step=(\d+)/.exec(img.getAttribute('src')!)![1]);
  assert.is(await shown(), '6', 'the newest first');
  assert.match((await page.textContent(`${card} .image-caption`))!, 'step 6 · 3 of 3');
  await page.focus(`${card} .image-slider`);
  await page.keyboard.press('Home');
  assert.is(await shown(), '2');
  // Polled from here: the board's Content Security Policy forbids eval, with which
  // waitForFunction polls a predicate that is not true at once.
  const decoded = () => page.$eval(`${card} img`, (img) => (img as unknown as { naturalWidth: number }).naturalWidth > 0);
  for (const since = Date.now(); !(await decoded()); await new Promise((resolve) => setTimeout(resolve, 50))) {
    assert.ok(Date.now() - since < 10_000, 'the first image was not decoded within 10 s');
  }
  const bytes = (step: number) =>
    page.evaluate(async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer())), `/api/image?id=${encodeURIComponent(trainingRun)}&tag=Training%2FImagesOverTime&step=${step}&index=0`);
  const [first, last] = [await bytes(2), await bytes(6)];
  assert.equal(first.slice(1, 4), [80, 78, 71], 'a PNG');
  assert.not.equal(first, last, 'another picture');
});

test('two runs\' configs diff to the lines that differ', async () => {
  await open(`run=${sweepId}/trial-0-beta=0.99&run=${sweepId}/trial-1-beta=0.992&tab=config`);
  await page.waitForSelector('.diff');
  const changed = await page.$$eval('.diff .added, .diff .removed', (lines) => lines.map((l) => l.textContent!.replace(/\s+/g, ' ')));
  assert.equal(changed, ['− beta: 0.99', '+ beta: 0.992']);
});

test('the sweep table has a row per trial, sorts by any column, and charts a metric against the swept parameter', async () => {
  await open(`sweep=${encodeURIComponent(sweepId)}&tab=sweep`);
  await page.waitForSelector('.sweep-table tbody tr');
  const order = () => page.$$eval('.sweep-table tbody tr', (rows) => rows.map((r) => r.getAttribute('data-trial')!.split('-')[1]));
  assert.equal(await order(), ['0', '1', '2', '3']);
  await page.click('th[data-key="param:callbacks.ema.beta"]');
  assert.equal(await order(), ['0', '1', '2', '3']);
  await page.click('th[data-key="param:callbacks.ema.beta"]');
  assert.equal(await order(), ['3', '2', '1', '0'], 'descending on a second click');

  const sweep = JSON.parse((await rawGet(`/api/sweep?id=${encodeURIComponent(sweepId)}`)).body) as SweepResponse;
  const ema = (trial: string) => sweep.trials.find((t) => t.name.startsWith(`trial-${trial}-`))!.metrics['Training/EMA_MSE'];
  await page.click('th[data-key="metric:Training/EMA_MSE"]');
  const sorted = (await order()).map(ema);
  assert.equal(sorted, [...sorted].sort((a, b) => a - b), 'ascending by the metric');
  assert.is(new Set(sorted).size, 4, 'the trials differ');
  assert.match((await page.textContent('.sweep-view .chart'))!, 'Training/EMA_MSE against callbacks.ema.beta');
  assert.is(await page.$$eval('.sweep-view .chart path[stroke-width="2"][fill="none"]', (p) => (p[0].getAttribute('d') ?? '').split(/[ML]/).length - 1), 4);
});

test('a live run\'s new points appear; a record still being written is waited for, not an error', async () => {
  await open(`run=${live.id}`);
  const points = () => page.textContent(`[data-tag="Training/MSE"] .points`);
  await page.waitForSelector(`[data-tag="Training/MSE"] .points`);
  assert.is(await points(), '5 points');
  writeLivePoints(5, 12);
  await pointsShown(12);
  assert.equal(Object.values(await drawnLines('Training/MSE')), [12]);

  live.writer.close();
  const next = oneRecord(12);
  const file = live.writer.file;
  fs.appendFileSync(file, next.subarray(0, 20));
  await page.waitForTimeout(4500); // two polls
  assert.is(await points(), '12 points');
  assert.is(await page.textContent(`${runItem(live.id)} .status`), 'running', 'not unreadable');
  fs.appendFileSync(file, next.subarray(20));
  await pointsShown(13);
});

/** Waits (a few polls at most) until the live run's chart says it has `count` points. */
function pointsShown(count: number): Promise<void> {
  return page.locator('[data-tag="Training/MSE"] .points', { hasText: new RegExp(`^${count} points$`) }).waitFor({ timeout: 8000 });
}

/** The bytes of one framed scalar record, as a writer appends them. */
function oneRecord(step: number): Buffer {
  const writer = new SummaryWriter(fs.mkdtempSync(path.join(tmp, 'record-')));
  const before = fs.statSync(writer.file).size;
  writer.scalar('Training/MSE', 0.01, step);
  writer.close();
  return fs.readFileSync(writer.file).subarray(before);
}

test('requests outside RUNS_DIR are refused: .. and absolute ids, linked folders, other hosts, writes', async () => {
  const refused = [
    ['/api/run?id=../../etc', 400],
    ['/api/run?id=%2Fetc%2Fpasswd', 400],
    [`/api/run?id=${encodeURIComponent(trainingRun)}%2F..%2F..%2F..`, 400],
    ['/api/image?id=quickstart%5C..%5C..&tag=x&step=0', 400],
    ['/../../etc/passwd', 404],
    ['/%2e%2e/%2e%2e/etc/passwd', 404],
    ['/api/run?id=linked/run', 404],
    ['/api/csv?id=outside/run&tag=Training/MSE', 404],
  ] as const;
  for (const [request, status] of refused) {
    const response = await rawGet(request);
    assert.is(response.status, status, `${request}: ${response.body}`);
    assert.not.match(response.body, 'root:', request);
  }
  assert.is((await rawGet('/api/runs', { Host: 'attacker.example:80' })).status, 403);
  assert.is((await rawGet('/api/runs', {}, 'POST')).status, 405);
  const csv = await rawGet(`/api/csv?id=${encodeURIComponent(trainingRun)}&tag=Training%2FMSE`);
  assert.is(csv.status, 200);
  assert.is(csv.body.trim().split('\n').length, 7, 'a heading and the 6 points');
});

test.run();
