/**
 * The webgpu backend on Mesa's software Vulkan driver (lavapipe; scripts/software-vulkan.sh
 * installs it): the adapter xp doctor names, training steps, sampling and a resumed run of the
 * quick-start model, each against the cpu backend. lavapipe is many times slower than wasm, so
 * everything here is a few steps at batch 2. Each backend runs in processes of its own.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { xp, repoRoot } from './support/cli.js';
import { softwareVulkanEnv } from './support/software-vulkan.js';
import type { StepsReport } from './support/webgpu-steps.js';
import { readScalars } from '../framework/records/tensorboard/reader.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-webgpu-'));
const vulkan = softwareVulkanEnv();

/** The largest difference over the largest magnitude: float rounding differs between backends, so a relative bound. */
function relativeError(expected: number[], actual: number[]): number {
  assert.is(actual.length, expected.length);
  const scale = Math.max(...expected.map(Math.abs)) || 1;
  return Math.max(...expected.map((e, i) => Math.abs(e - actual[i]))) / scale;
}

function steps(backend: string): StepsReport {
  const out = path.join(tmp, `steps-${backend}.json`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'tests/support/webgpu-steps.ts', backend, out], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...vulkan },
  });
  assert.is(child.status, 0, child.stderr);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as StepsReport;
}

test('xp doctor names the software adapter; auto skips it and says why; without a driver it says what is missing', () => {
  const forced = xp(['doctor', '--backend', 'webgpu'], repoRoot, vulkan);
  assert.is(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /^backend: +webgpu$/m);
  assert.match(forced.stdout, /^adapter: +llvmpipe\S* \(software; vendor mesa, architecture \w+, driver llvmpipe: Mesa 25\.[^\n]*\); max buffer [\d.]+ GiB, max storage binding [\d.]+ MiB/m);
  const auto = xp(['doctor', '--backend', 'auto'], repoRoot, vulkan);
  assert.match(auto.stdout, /skipped webgpu: only a software adapter, llvmpipe.*used only with --backend webgpu/);
  assert.match(auto.stdout, /^backend: +wasm$/m);
  const none = xp(['doctor', '--backend', 'webgpu'], repoRoot, { LD_LIBRARY_PATH: '', VK_DRIVER_FILES: path.join(tmp, 'no-icd.json') });
  assert.is(none.code, 1);
  assert.match(none.stderr, /backend 'webgpu' cannot be used: Dawn found no WebGPU adapter: it needs libvulkan.so.1 .* and a Vulkan driver/);
});

test('quick-start model: losses and gradients on webgpu match the cpu backend; tensors stay flat', () => {
  const cpu = steps('cpu');
  const webgpu = steps('webgpu');
  assert.is(webgpu.backend, 'webgpu');
  assert.ok(relativeError(cpu.losses, webgpu.losses) < 1e-5, `losses cpu ${cpu.losses} webgpu ${webgpu.losses}`);
  assert.equal(Object.keys(webgpu.gradients).sort(), Object.keys(cpu.gradients).sort());
  for (const [name, expected] of Object.entries(cpu.gradients)) {
    const error = relativeError(expected, webgpu.gradients[name]);
    assert.ok(error < 1e-4, `gradient of ${name}: relative error ${error}`);
  }
  const [first, ...rest] = webgpu.tensorsAfterEachStep;
  assert.ok(rest.every((n) => n === first), `tensors after each step: ${webgpu.tensorsAfterEachStep}`);
});

const quick = [
  '--set', 'dataset.batch_size=2', '--set', 'trainer.threads=1', '--set', 'sampler.steps=3',
  '--set', 'callbacks.samples.n=2', '--set', 'callbacks.samples.every_steps=2',
  '--set', '~callbacks.ema_samples', '--set', '~callbacks.final_samples', '--set', 'callbacks.checkpoints.every_steps=2',
];

/** A quick-start run of `maxSteps` in runs/<name>/, or the resumption of one; returns its folder. */
function run(backend: string, name: string, maxSteps: number, resume?: string): string {
  const runsDir = path.join(tmp, 'runs', name);
  const args = resume
    ? ['run', '--resume', resume, '--set', `trainer.max_steps=${maxSteps}`]
    : ['run', 'experiments/quickstart.yaml', ...quick, '--set', `trainer.max_steps=${maxSteps}`, '--runs-dir', runsDir];
  const result = xp([...args, '--backend', backend], repoRoot, vulkan);
  assert.is(result.code, 0, result.stderr);
  if (resume) return resume;
  const [stamp] = fs.readdirSync(path.join(runsDir, 'quickstart'));
  return path.join(runsDir, 'quickstart', stamp);
}

const losses = (dir: string) => readScalars(dir).get('Training/MSE')!.map((p) => p.value);

test('xp sample on webgpu draws the images the cpu backend draws from the same checkpoint', () => {
  const dir = run('cpu', 'for-sampling', 2);
  const bytes = (backend: string) => {
    const out = path.join(tmp, `samples-${backend}.npy`);
    const sampled = xp(['sample', dir, '--n', '2', '--sampler', 'ddim', '--steps', '3', '--out', out, '--backend', backend], repoRoot, vulkan);
    assert.is(sampled.code, 0, sampled.stderr);
    return [...fs.readFileSync(out)];
  };
  const [cpu, webgpu] = [bytes('cpu'), bytes('webgpu')];
  // Pixels are rounded to 0..255, so float rounding may move a pixel near a step by one level.
  assert.ok(cpu.every((v, i) => Math.abs(v - webgpu[i]) <= 1), 'cpu and webgpu samples differ by more than one level');
});

test('xp run on webgpu: samples, checkpoints, and a resumed run repeats the uninterrupted losses, near the cpu backend\'s', () => {
  const whole = losses(run('webgpu', 'whole', 4));
  const stopped = run('webgpu', 'stopped', 2);
  // What Ctrl-C at step 2 leaves (a checkpoint at step 2, status interrupted), without waiting
  // for the signal on this slow adapter: --resume of a completed run is a no-op.
  const info = path.join(stopped, 'run.json');
  fs.writeFileSync(info, JSON.stringify({ ...JSON.parse(fs.readFileSync(info, 'utf8')), status: 'interrupted' }));
  const resumed = losses(run('webgpu', 'stopped', 4, stopped));
  assert.is(whole.length, 4);
  // The same seed on the same backend gives the same losses (two uninterrupted webgpu runs do, exactly).
  assert.equal(resumed, whole, 'stopped and resumed against uninterrupted');
  assert.ok(relativeError(losses(run('cpu', 'whole-cpu', 4)), whole) < 1e-4, 'webgpu losses far from the cpu backend\'s');
  assert.ok(fs.readdirSync(path.join(stopped, 'samples')).length >= 2, 'sample grids on webgpu');
  assert.match(JSON.parse(fs.readFileSync(path.join(stopped, 'run.json'), 'utf8')).adapter, /^llvmpipe.*\(software; vendor mesa/);
});

test.run();
