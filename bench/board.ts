/**
 * `xp board` on a large run: 100,000 points in each of four scalar tags and 300 sample grids
 * in each of two image tags (a 27 MB event file), each repetition with a fresh server (nothing
 * read yet) and a fresh page in headless Chromium. Timed: the server's first answers (reading
 * the whole event file, downsampling), the page until every chart has its lines, and the
 * images tab until its pictures are loaded. The target is under 1 second to open the run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { SummaryWriter } from '../framework/records/tensorboard/writer.js';
import { RunFolder } from '../framework/run/run-folder.js';
import { encodeGrayPng, imageGrid } from '../framework/records/png.js';
import { startBoard, PAGE_DIR } from '../app/board/server.js';
import { chromiumPath, launchChromium } from '../tests/support/browser.js';
import { table, type Benchmark } from './harness.js';

const POINTS_PER_TAG = 100_000;
const SCALAR_TAGS = ['Training/MSE', 'Training/EMA_MSE', 'Eval/FID', 'Eval/EMA_FID'];
const IMAGES_PER_TAG = 300;
const IMAGE_TAGS = ['Training/ImagesOverTime', 'Training/EMAImagesOverTime'];
const REPS = 5;
const RUN_ID = 'big/run';

interface PageGlobals {
  document: { querySelectorAll(selector: string): { length: number } & Iterable<{ complete: boolean; naturalWidth: number }> };
}

interface Rep {
  serverMs: number;
  scalarsPageMs: number;
  /** CPU time of this process (the board's server, in process) and of the page's main thread while the charts opened. */
  scalarsServerCpuMs: number;
  scalarsPageCpuMs: number;
  imagesPageMs: number;
}

export const board: Benchmark = {
  name: 'board',
  description: `xp board opening a run of ${POINTS_PER_TAG.toLocaleString('en')} points in each of ${SCALAR_TAGS.length} scalar tags and ${IMAGES_PER_TAG} images in each of ${IMAGE_TAGS.length} image tags`,
  async requirements() {
    if (!fs.existsSync(chromiumPath)) throw new Error(`the board benchmark needs Chromium at ${chromiumPath} (apt-get install chromium, or set XP_CHROMIUM)`);
    if (!fs.existsSync(path.join(PAGE_DIR, 'app.js'))) throw new Error('the board benchmark needs the built page: npm run build');
  },
  async run() {
    const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-bench-board-'));
    const browser = await launchChromium();
    try {
      const written = writeLargeRun(path.join(runs, RUN_ID));
      const reps: Rep[] = [];
      for (let i = 0; i < REPS; i++) reps.push(await openOnce(runs, browser));
      const median = (key: keyof Rep) => [...reps.map((r) => r[key])].sort((a, b) => a - b)[REPS >> 1];
      const columns: (keyof Rep)[] = ['serverMs', 'scalarsPageMs', 'scalarsServerCpuMs', 'scalarsPageCpuMs', 'imagesPageMs'];
      const rows = reps.map((r, i) => [`rep ${i + 1}`, ...columns.map((c) => r[c].toFixed(0))]);
      rows.push(['median', ...columns.map((c) => median(c).toFixed(0))]);
      const report = [
        `event file: ${(written.bytes / 1e6).toFixed(1)} MB, written in ${(written.ms / 1000).toFixed(1)} s`,
        '',
        table(['', 'server: run + scalars (ms)', 'page: charts drawn (ms)', '  server CPU (ms)', '  page CPU (ms)', 'page: images shown (ms)'], rows),
      ].join('\n');
      return { report, data: { pointsPerTag: POINTS_PER_TAG, scalarTags: SCALAR_TAGS.length, imagesPerTag: IMAGES_PER_TAG, imageTags: IMAGE_TAGS.length, eventFileBytes: written.bytes, reps } };
    } finally {
      await browser.close();
      fs.rmSync(runs, { recursive: true, force: true });
    }
  },
};

/** A run folder as a long training leaves it, written by xp's own SummaryWriter. */
function writeLargeRun(dir: string): { bytes: number; ms: number } {
  const started = performance.now();
  const folder = RunFolder.create({ dir }, { name: 'big' }, { backend: 'wasm', versions: { xp: '0', tfjs: '0', node: '0' }, seed: 0 });
  const writer = new SummaryWriter(dir, { flushSeconds: 3600 });
  for (let step = 1; step <= POINTS_PER_TAG; step++) {
    SCALAR_TAGS.forEach((tag, t) => writer.scalar(tag, (1 + t) / Math.sqrt(step) + 0.01 * Math.sin(step), step));
    if (step % 10_000 === 0) writer.flush();
  }
  const imageEvery = POINTS_PER_TAG / IMAGES_PER_TAG;
  for (let i = 1; i <= IMAGES_PER_TAG; i++) {
    for (const tag of IMAGE_TAGS) {
      const digits = Uint8Array.from({ length: 36 * 28 * 28 }, (_, p) => (p * 31 + i * 17) % 256);
      const grid = imageGrid(digits, 36, 28, 28);
      writer.image(tag, encodeGrayPng(grid.pixels, grid.width, grid.height), grid.width, grid.height, Math.round(i * imageEvery));
    }
  }
  writer.close();
  folder.update({ status: 'completed', steps: POINTS_PER_TAG, endedAt: new Date().toISOString() });
  return { bytes: fs.statSync(writer.file).size, ms: performance.now() - started };
}

/** One cold opening of each kind, each on a new server that has read nothing yet. */
async function openOnce(runs: string, browser: Browser): Promise<Rep> {
  const id = encodeURIComponent(RUN_ID);
  const serverMs = await timedOnFreshServer(runs, async (url) => {
    await (await fetch(`${url}api/run?id=${id}`)).json();
    await (await fetch(`${url}api/scalars?id=${id}&points=1000&smoothing=0.6`)).json();
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  try {
    const opened = (hash: string, done: (count: number) => boolean, count: number) =>
      timedOnFreshServer(runs, async (url) => {
        await page.goto(`${url}#${hash}`);
        await page.waitForFunction(done, count, { polling: 'raf', timeout: 30_000 });
      });
    // These run in the page, which has the DOM; this file is compiled without its types.
    // On a shared machine, wall times include waiting for the cores; CPU times do not.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const pageCpu = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')!.value * 1000;
    const [serverCpuBefore, pageCpuBefore] = [process.cpuUsage(), await pageCpu()];
    const scalarsPageMs = await opened(
      `run=${id}`,
      (count) => (globalThis as unknown as PageGlobals).document.querySelectorAll('.chart-card .chart path[stroke-width="2"][fill="none"]').length === count,
      SCALAR_TAGS.length,
    );
    const serverCpu = process.cpuUsage(serverCpuBefore);
    const scalarsServerCpuMs = (serverCpu.user + serverCpu.system) / 1000;
    const scalarsPageCpuMs = (await pageCpu()) - pageCpuBefore;
    await page.goto('about:blank');
    const imagesPageMs = await opened(
      `run=${id}&tab=images`,
      (count) => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('.image-card img')].filter((img) => img.complete && img.naturalWidth > 0).length === count,
      IMAGE_TAGS.length,
    );
    return { serverMs, scalarsPageMs, scalarsServerCpuMs, scalarsPageCpuMs, imagesPageMs };
  } finally {
    await page.close();
  }
}

/** Milliseconds `use` takes against a board server started for it (its start not counted). */
async function timedOnFreshServer(runs: string, use: (url: string) => Promise<void>): Promise<number> {
  const server = await startBoard({ runsDir: runs, port: 0, host: '127.0.0.1' });
  try {
    const started = performance.now();
    await use(server.url);
    return performance.now() - started;
  } finally {
    await server.close();
  }
}
