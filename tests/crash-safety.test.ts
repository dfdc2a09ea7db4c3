/**
 * Crash safety through the command line, as a user (or a failing machine) meets it: kill -9 at
 * random steps, a second writer, signals, a full disk, damaged files, and what each leaves in
 * the run folder and on the terminal.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, xp, xpBin } from './support/cli.js';
import { eventFiles, fileScalars } from '../framework/records/tensorboard/reader.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-crash-'));

/** The quick start shrunk to seconds: 48 steps of 4 images, a 3-stage UNet of 4-8 channels. */
const TINY = [
  '--set', 'dataset.batch_size=4', '--set', 'dataset.limit=64', '--set', 'model.time_dim=16',
  '--set', 'model.stages={start: [{type: DoubleConv, out: 4}], down1: [{type: Down, out: 8}], up1: [{type: Up, out: 4}]}',
  '--set', 'schedule.steps=50', '--set', 'sampler.steps=5', '--set', 'trainer.epochs=3', '--set', 'trainer.max_steps=40',
  '--set', 'trainer.threads=1', '--set', 'callbacks.checkpoints.every_steps=3', '--set', 'callbacks.samples.every_steps=4',
  '--set', 'callbacks.samples.n=1', '--set', 'callbacks.ema_samples.every_steps=0', '--set', '~callbacks.final_samples',
];

function runOf(runsDir: string): string {
  const experimentDir = path.join(runsDir, 'quickstart');
  const [stamp] = fs.existsSync(experimentDir) ? fs.readdirSync(experimentDir) : [];
  return stamp ? path.join(experimentDir, stamp) : '';
}

const runInfo = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [xpBin, ...args], { cwd: repoRoot, env: { ...process.env, XP_BACKEND: 'wasm' }, stdio: ['ignore', 'ignore', 'pipe'] });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

/** Polls until `probe` gives a value; fails at once where `child` (the process awaited) has ended. */
async function waitFor<T>(probe: () => T | undefined, what: string, child?: ChildProcess, seconds = 120): Promise<T> {
  for (let i = 0; i < seconds * 20; i++) {
    const value = probe();
    if (value) return value;
    if (child && child.exitCode !== null) throw new Error(`the run ended (code ${child.exitCode}) before ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The newest checkpoint's step, 0 where there is none. */
function checkpointStep(dir: string): number {
  const names = fs.existsSync(path.join(dir, 'checkpoints')) ? fs.readdirSync(path.join(dir, 'checkpoints')).filter((n) => n.startsWith('step-')) : [];
  return names.length ? Number(names.sort().pop()!.slice(5)) : 0;
}

/** The step of the newest sample image, 0 where there is none. */
function newestImageStep(dir: string): number {
  const samples = path.join(dir, 'samples');
  const steps = fs.existsSync(samples) ? fs.readdirSync(samples).map((n) => Number(/-step(\d+)\.png$/.exec(n)?.[1] ?? 0)) : [];
  return Math.max(0, ...steps);
}

/** Every Training/MSE point of every event file, repeats included: step -> values. */
function recordedLosses(dir: string): Map<number, number[]> {
  const byStep = new Map<number, number[]>();
  for (const file of eventFiles(dir)) {
    for (const point of fileScalars(file)) {
      if (point.tag === 'Training/MSE') byStep.set(point.step, [...(byStep.get(point.step) ?? []), point.value]);
    }
  }
  return byStep;
}

/** A small seeded generator, so a failing draw of kill points can be replayed (XP_TEST_SEED). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/**
 * The kill test's cadence: a checkpoint every 5 steps and an image every 2, so every checkpoint is
 * followed by images before the next one (a window of 3-4 steps to kill in), and 50 steps leave
 * room for three kills whatever the draw: each lands at most 5 steps past the previous checkpoint.
 */
const KILL_STEPS = 50;
const KILLABLE = [
  ...TINY, '--set', 'trainer.epochs=4', '--set', `trainer.max_steps=${KILL_STEPS}`,
  '--set', 'callbacks.checkpoints.every_steps=5', '--set', 'callbacks.samples.every_steps=2',
];

test('kill -9 at random steps, then --resume until done: every step recorded once, with the loss of an uninterrupted run', async () => {
  const reference = path.join(tmp, 'reference');
  const whole = xp(['run', 'experiments/quickstart.yaml', '--runs-dir', reference, ...KILLABLE]);
  assert.is(whole.code, 0, whole.stderr);
  const expected = recordedLosses(runOf(reference));
  assert.equal([...expected.keys()].sort((a, b) => a - b), Array.from({ length: KILL_STEPS }, (_, i) => i + 1));

  const seed = Number(process.env.XP_TEST_SEED ?? Date.now() % 100000);
  const draw = random(seed);
  const runs = path.join(tmp, 'killed');
  const kills: string[] = [];
  let child = start(['run', 'experiments/quickstart.yaml', '--runs-dir', runs, ...KILLABLE]);
  let resumedFrom = 0;
  for (let kill = 0; kill < 3; kill++) {
    // Past a random checkpoint; then either a random moment later (mid-step, mid-save), or as soon as
    // an image was flushed past the checkpoint, so records of steps after it are already on disk.
    const after = resumedFrom + 1 + Math.floor(draw() * 5);
    const pastImage = kill % 2 === 0;
    const dir = await waitFor(() => {
      const candidate = runOf(runs);
      if (!candidate || checkpointStep(candidate) < after) return undefined;
      return !pastImage || newestImageStep(candidate) > checkpointStep(candidate) ? candidate : undefined;
    }, `kill ${kill + 1} (seed ${seed})`, child);
    if (!pastImage) await new Promise((resolve) => setTimeout(resolve, draw() * 300));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    resumedFrom = checkpointStep(dir);
    kills.push(`after checkpoint ${resumedFrom}`);
    if (kill === 0) {
      // run.json still says running; with its writer dead, xp runs says what happened.
      assert.is(runInfo(dir).status, 'running');
      const listed = xp(['runs', runs]).stdout;
      assert.match(listed, new RegExp(`^${path.relative(runs, dir)}\\s+crashed\\s`, 'm'), listed);
    }
    child = start(['run', '--resume', dir]);
  }
  const last = await exited(child);
  assert.is(last.code, 0, `${kills.join(', ')} (seed ${seed})\n${last.stderr}`);
  const dir = runOf(runs);
  assert.equal([runInfo(dir).status, runInfo(dir).steps], ['completed', KILL_STEPS]);
  const recorded = recordedLosses(dir);
  for (let step = 1; step <= KILL_STEPS; step++) {
    assert.equal(recorded.get(step), expected.get(step), `step ${step}, killed ${kills.join(', ')} (seed ${seed})`);
  }
  assert.is(recorded.size, KILL_STEPS, 'no step beyond the run');
  assert.not.ok(fs.readdirSync(path.join(dir, 'checkpoints')).some((n) => n.includes('.tmp-')), 'no temporary checkpoint left');
  assert.not.ok(fs.existsSync(path.join(dir, 'run.lock')), 'the lock is released');
});

test('a second writer is refused; SIGTERM ends the run interrupted with status 143; --resume of a completed run changes nothing', async () => {
  const runs = path.join(tmp, 'two-writers');
  const first = start(['run', 'experiments/quickstart.yaml', '--runs-dir', runs, ...TINY, '--set', 'trainer.max_steps=100000', '--set', 'trainer.epochs=10000']);
  const ended = exited(first);
  const dir = await waitFor(() => (runOf(runs) && checkpointStep(runOf(runs)) >= 3 ? runOf(runs) : undefined), 'a first checkpoint');
  const second = xp(['run', '--resume', dir]);
  assert.is(second.code, 1);
  assert.match(second.stderr, new RegExp(`^xp: ${dir} is being written by process ${first.pid} on ${os.hostname()}`, 'm'));
  first.kill('SIGTERM');
  const { code, stderr } = await ended;
  assert.is(code, 143, stderr);
  assert.is(runInfo(dir).status, 'interrupted');
  assert.match(stderr, `resume with: xp run --resume ${dir}`);

  const done = xp(['run', '--resume', dir, '--set', 'trainer.max_steps=12']);
  assert.is(done.code, 0, done.stderr);
  assert.is(runInfo(dir).status, 'completed');
  const before = fs.readdirSync(dir).map((f) => `${f}:${fs.statSync(path.join(dir, f)).mtimeMs}`);
  const again = xp(['run', '--resume', dir]);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, `${dir} already completed (${runInfo(dir).steps} steps); nothing to resume`);
  assert.equal(fs.readdirSync(dir).map((f) => `${f}:${fs.statSync(path.join(dir, f)).mtimeMs}`), before);
});

test('a paused writer whose lease ran out is taken over, and on waking stops without writing more (exit 75)', async () => {
  const runs = path.join(tmp, 'paused');
  const paused = start(['run', 'experiments/quickstart.yaml', '--runs-dir', runs, ...TINY, '--set', 'trainer.max_steps=100000', '--set', 'trainer.epochs=10000', '--lease-seconds', '2']);
  const pausedEnd = exited(paused);
  const dir = await waitFor(() => (runOf(runs) && checkpointStep(runOf(runs)) >= 3 ? runOf(runs) : undefined), 'a first checkpoint');
  paused.kill('SIGSTOP'); // a machine cut off, or a worker stopped in a debugger
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const takeover = exited(start(['run', '--resume', dir, '--set', `trainer.max_steps=${checkpointStep(dir) + 6}`]));
  const taken = await waitFor(() => (JSON.parse(fs.readFileSync(path.join(dir, 'run.lock'), 'utf8')).pid !== paused.pid ? true : undefined), 'the takeover');
  assert.ok(taken);
  paused.kill('SIGCONT');
  const first = await pausedEnd;
  assert.is(first.code, 75, first.stderr);
  assert.match(first.stderr, /another process \(process \d+ on .+\) took this run folder over; stopping without writing more|took this run folder over/);
  const second = await takeover;
  assert.is(second.code, 0, second.stderr);
  const info = runInfo(dir);
  assert.is(info.status, 'completed');
  const recorded = recordedLosses(dir);
  assert.equal([...recorded.keys()].sort((a, b) => a - b), Array.from({ length: info.steps }, (_, i) => i + 1), 'every step once, none beyond the end');
  for (const [step, values] of recorded) assert.is(values.length, 1, `step ${step} recorded once`);
});

test('weights that turn infinite fail the run with the first error in run.json; the last good checkpoint is kept', () => {
  const runs = path.join(tmp, 'poisoned');
  const good = xp(['run', 'experiments/quickstart.yaml', '--runs-dir', runs, ...TINY, '--set', 'trainer.max_steps=3']);
  assert.is(good.code, 0, good.stderr);
  const dir = runOf(runs);
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ ...runInfo(dir), status: 'interrupted' }));
  // 1e39 overflows float32 (at the full rate: no warm-up): the first update makes every weight
  // infinite while the loss before it is finite.
  const poisoned = xp([
    'run', '--resume', dir, '--set', 'trainer.max_steps=6', '--set', 'optimizer.lr=1e39', '--set', 'lr_schedule.warmup_steps=0',
    '--set', 'callbacks.checkpoints.every_steps=1',
  ]);
  assert.is(poisoned.code, 1);
  const lines = poisoned.stderr.trim().split('\n').filter((l) => l.startsWith('xp: '));
  assert.equal(lines.length, 1, poisoned.stderr);
  assert.match(lines[0], /^xp: at step 4 '.+' holds NaN or infinite values; the checkpoint was not written \(the last good one, step-00000003, is kept\)$/);
  const info = runInfo(dir);
  assert.is(info.status, 'failed');
  assert.match(info.error, 'holds NaN or infinite values');
  assert.equal(fs.readdirSync(path.join(dir, 'checkpoints')), ['step-00000003']);
  const sampled = xp(['sample', dir, '--n', '1', '--sampler', 'ddim', '--steps', '2', '--out', path.join(tmp, 'from-good.png')]);
  assert.is(sampled.code, 0, sampled.stderr);
});

test('a full disk: one line naming the problem, run.json says failed, no temporary checkpoint is left', () => {
  const runs = path.join(tmp, 'full-disk');
  const out = path.join(tmp, 'full-disk-out');
  fs.mkdirSync(runs);
  fs.mkdirSync(out);
  // A private 300 KiB filesystem for the run (three checkpoints of this model do not fit), in a mount namespace of its own.
  const script = [
    `mount -t tmpfs -o size=300k xp-full ${runs}`,
    `${process.execPath} ${xpBin} run experiments/quickstart.yaml --runs-dir ${runs} ${TINY.map((a) => `'${a}'`).join(' ')} --set callbacks.checkpoints.every_steps=1 2>${out}/stderr`,
    `echo $? > ${out}/code`,
    `cp ${runs}/quickstart/*/run.json ${out}/; ls -a ${runs}/quickstart/*/checkpoints > ${out}/checkpoints`,
  ].join('\n');
  const shell = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, XP_BACKEND: 'wasm' } });
  assert.is(shell.status, 0, shell.stderr);
  const stderr = fs.readFileSync(path.join(out, 'stderr'), 'utf8');
  assert.is(fs.readFileSync(path.join(out, 'code'), 'utf8').trim(), '1', stderr);
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('xp: '));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^xp: ENOSPC: no space left on device/);
  const info = JSON.parse(fs.readFileSync(path.join(out, 'run.json'), 'utf8'));
  assert.is(info.status, 'failed');
  assert.match(info.error, 'ENOSPC');
  assert.not.match(fs.readFileSync(path.join(out, 'checkpoints'), 'utf8'), '.tmp-');
});

test('user errors are one line naming the file (exit 1 or 2); xp sample checks --out before sampling', () => {
  const runs = path.join(tmp, 'errors');
  const made = xp(['run', 'experiments/quickstart.yaml', '--runs-dir', runs, ...TINY, '--set', 'trainer.max_steps=3']);
  assert.is(made.code, 0, made.stderr);
  const dir = runOf(runs);
  const oneLine = (result: { code: number; stderr: string }, code: number, pattern: RegExp | string) => {
    assert.is(result.code, code, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.is(lines.length, 1, result.stderr);
    assert.match(lines[0], pattern);
  };
  const out = path.join(tmp, 'grid.png');
  oneLine(xp(['sample', dir, '--n', '1', '--out', path.join(tmp, 'missing', 'grid.png')]), 1, `xp: --out ${path.join(tmp, 'missing', 'grid.png')}: the folder ${path.join(tmp, 'missing')} does not exist`);
  oneLine(xp(['sample', dir, '--n', '1', '--batch', '0', '--out', out]), 1, 'xp: --batch must be a positive integer or auto, got 0');
  fs.writeFileSync(out, 'mine');
  oneLine(xp(['sample', dir, '--n', '1', '--out', out]), 1, `xp: --out ${out}: the file exists; pass --force to overwrite it`);
  assert.is(fs.readFileSync(out, 'utf8'), 'mine');
  const forced = xp(['sample', dir, '--n', '1', '--sampler', 'ddim', '--steps', '2', '--out', out, '--force']);
  assert.is(forced.code, 0, forced.stderr);
  assert.is.not(fs.readFileSync(out, 'utf8'), 'mine');

  const checkpoint = path.join(dir, 'checkpoints', 'step-00000003');
  const manifest = fs.readFileSync(path.join(checkpoint, 'weights.json'), 'utf8');
  const entries = JSON.parse(manifest);
  const first = entries[0].weights[0];
  [first.shape[0], first.shape[1]] = [first.shape[1], first.shape[0]];
  if (first.shape[0] === first.shape[1]) first.shape.push(1);
  fs.writeFileSync(path.join(checkpoint, 'weights.json'), JSON.stringify(entries));
  oneLine(xp(['sample', dir, '--n', '1', '--out', path.join(tmp, 'x.png')]), 1, /^xp: .*(has shape|describes).*/);
  fs.writeFileSync(path.join(checkpoint, 'weights.json'), manifest);
  fs.truncateSync(path.join(checkpoint, 'weights.bin'), 100);
  oneLine(xp(['sample', dir, '--n', '1', '--out', path.join(tmp, 'x.png')]), 1, `xp: ${path.join(checkpoint, 'weights.bin')}: 100 bytes where weights.json describes`);

  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ ...runInfo(dir), status: 'interrupted' }));
  fs.writeFileSync(path.join(checkpoint, 'state.json'), '{"step": 3,');
  const before = fs.readFileSync(path.join(dir, 'run.json'), 'utf8');
  oneLine(xp(['run', '--resume', dir]), 1, `xp: ${path.join(checkpoint, 'state.json')}: not valid JSON`);
  assert.is(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'), before, 'a resume that cannot start leaves the record as it was');

  oneLine(xp(['validate', tmp]), 2, `xp: ${tmp}: is a folder, not an experiment file`);
  oneLine(xp(['run', 'experiments/quickstart.yaml', '--name', '../../escape', '--runs-dir', runs]), 1, /^xp: --name \.\.\/\.\.\/escape: must be a plain folder name/);
});

test('xp runs lists a corrupt run as unreadable, and the others', () => {
  const runs = path.join(tmp, 'listing');
  for (const name of ['a', 'b']) fs.mkdirSync(path.join(runs, name), { recursive: true });
  fs.writeFileSync(path.join(runs, 'a', 'run.json'), '{"status": "comp');
  fs.writeFileSync(path.join(runs, 'b', 'run.json'), JSON.stringify({ status: 'completed', steps: 7, lastLoss: 0.5, backend: 'wasm', startedAt: '2025-01-01T00:00:00.000Z' }));
  const listed = xp(['runs', runs]);
  assert.is(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^a\s+unreadable\s+-\s+-\s+-\s+not valid JSON/m);
  assert.match(listed.stdout, /^b\s+completed\s+7\s+0\.5000\s+wasm\s+2025-01-01 00:00:00$/m);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
