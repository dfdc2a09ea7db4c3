import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandTrials, trialOverrides } from '../app/sweep/trials.js';
import { summarize } from '../app/sweep/summary.js';
import { threadsPerTrial, type TrialOutcome } from '../app/sweep/launcher.js';
import { spawn } from 'node:child_process';
import { repoRoot, xp, xpBin } from './support/cli.js';

test('a grid is the cartesian product of its axes, then explicit trials, then random draws', () => {
  const trials = expandTrials({
    grid: { 'callbacks.ema.beta': [0.99, 0.999], seed: [0, 1] },
    trials: [{ 'optimizer.lr': 0.001 }],
    random: { seed: 3, count: 2, params: { 'optimizer.lr': { min: 1e-4, max: 1e-2, log: true }, 'dataset.shuffle': [true, false] } },
  });
  assert.is(trials.length, 7);
  assert.equal(trials.slice(0, 4).map((t) => t.params), [
    { 'callbacks.ema.beta': 0.99, seed: 0 },
    { 'callbacks.ema.beta': 0.99, seed: 1 },
    { 'callbacks.ema.beta': 0.999, seed: 0 },
    { 'callbacks.ema.beta': 0.999, seed: 1 },
  ]);
  assert.is(trials[0].name, 'trial-0-beta=0.99,seed=0');
  assert.equal(trialOverrides(trials[4]), ['optimizer.lr=0.001']);
  for (const t of trials.slice(5)) {
    const lr = t.params['optimizer.lr'] as number;
    assert.ok(lr >= 1e-4 && lr <= 1e-2);
  }
  assert.equal(expandTrials({ random: { seed: 3, count: 2, params: { x: [1, 2, 3] } } }), expandTrials({ random: { seed: 3, count: 2, params: { x: [1, 2, 3] } } }));
});

test('trials share the cores when several run at once; one alone keeps its own threads setting', () => {
  assert.is(threadsPerTrial(1), undefined);
  assert.is(threadsPerTrial(2), Math.max(1, Math.floor(os.cpus().length / 2)));
  assert.is(threadsPerTrial(os.cpus().length * 4), 1);
});

test('xp sweep runs every trial as an ordinary run, summarizes them, and --resume skips completed trials', () => {
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-sweep-'));
  try {
    const args = [
      'sweep', 'experiments/sweep-ema-beta.yaml', '--runs-dir', runs, '--grid', 'callbacks.ema.beta=0.9,0.99',
      '--set', 'trainer.max_steps=2', '--set', 'dataset.batch_size=4', '--set', 'callbacks.samples.every_epochs=0',
      '--set', 'callbacks.ema_samples.every_epochs=0', '--set', '~callbacks.final_samples', '--parallel', '2',
    ];
    const first = xp(args);
    assert.is(first.code, 0, first.stderr);
    const [stamp] = fs.readdirSync(path.join(runs, 'sweep-ema-beta'));
    const sweepDir = path.join(runs, 'sweep-ema-beta', stamp);
    const trialDirs = fs.readdirSync(sweepDir).filter((d) => fs.statSync(path.join(sweepDir, d)).isDirectory()).sort();
    assert.equal(trialDirs, ['trial-0-beta=0.9', 'trial-1-beta=0.99']);
    for (const [i, dir] of trialDirs.entries()) {
      const info = JSON.parse(fs.readFileSync(path.join(sweepDir, dir, 'run.json'), 'utf8'));
      assert.equal([info.status, info.steps], ['completed', 2]);
      const config = fs.readFileSync(path.join(sweepDir, dir, 'config.yaml'), 'utf8');
      assert.match(config, `beta: ${[0.9, 0.99][i]}`);
      assert.match(config, `threads: ${threadsPerTrial(2)}`, 'two trials at once share the cores');
    }
    const csv = fs.readFileSync(path.join(sweepDir, 'summary.csv'), 'utf8').trim().split('\n');
    assert.is(csv[0], 'trial,callbacks.ema.beta,status,steps,Training/MSE,Training/EMA_MSE');
    assert.is(csv.length, 3);
    assert.ok(fs.readdirSync(sweepDir).some((f) => f.startsWith('events.out.tfevents.')), 'the HParams experiment record');

    const again = xp([...args, '--resume']);
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stderr, 'trial-0-beta=0.9: already completed, skipped');
    assert.is(fs.readdirSync(path.join(runs, 'sweep-ema-beta')).length, 1);
  } finally {
    fs.rmSync(runs, { recursive: true, force: true });
  }
});

test('the summary shows the eval callback\'s last FIDs where a trial recorded them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-summary-'));
  try {
    const outcome = (name: string, seed: number, metrics: Record<string, number>) =>
      ({ trial: { name, params: { seed } }, status: 'completed', info: { steps: 5, metrics }, dir }) as unknown as TrialOutcome;
    summarize([outcome('t0', 0, { 'Training/MSE': 0.1, 'Eval/FID': 300.5, 'Eval/EMA_FID': 290.25 }), outcome('t1', 1, { 'Training/MSE': 0.2 })], dir);
    assert.equal(fs.readFileSync(path.join(dir, 'summary.csv'), 'utf8').trim().split('\n'), [
      'trial,seed,status,steps,Training/MSE,Eval/FID,Eval/EMA_FID',
      't0,0,completed,5,0.10000,300.50000,290.25000',
      't1,1,completed,5,0.20000,,',
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every trial is validated before any runs', () => {
  const result = xp(['sweep', 'experiments/sweep-ema-beta.yaml', '--grid', 'callbacks.ema.beta=0.9,1.5', '--dry-run']);
  assert.is(result.code, 2);
  assert.match(result.stderr, /trial-1-beta=1\.5: .*must be < 1/);
});

test('Ctrl-C just as a local sweep starts a trial: no trial is marked failed, the unstarted ones are counted, exit 130', async () => {
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-sweep-stop-'));
  try {
    const child = spawn(process.execPath, [
      xpBin, 'sweep', 'experiments/sweep-ema-beta.yaml', '--runs-dir', runs, '--parallel', '1',
      '--set', 'trainer.max_steps=1000', '--set', 'dataset.batch_size=4', '--set', 'callbacks.samples.every_steps=0',
      '--set', 'callbacks.ema_samples.every_steps=0', '--set', '~callbacks.final_samples',
    ], { cwd: repoRoot, env: { ...process.env, XP_BACKEND: 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve) => child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.includes('trial-0-beta=0.99: started')) resolve();
    }));
    child.kill('SIGINT');
    assert.is(await exited, 130, stderr);
    assert.match(stderr, /SIGINT: 4 of 4 trials did not complete \((1 interrupted, 3 not started|4 not started)/);
    const [stamp] = fs.readdirSync(path.join(runs, 'sweep-ema-beta'));
    const summary = JSON.parse(fs.readFileSync(path.join(runs, 'sweep-ema-beta', stamp, 'summary.json'), 'utf8')) as { status: string }[];
    assert.ok(['interrupted', 'not started'].includes(summary[0].status), summary[0].status);
    assert.equal(summary.slice(1).map((t) => t.status), ['not started', 'not started', 'not started'], stdout);
    const firstRun = path.join(runs, 'sweep-ema-beta', stamp, 'trial-0-beta=0.99', 'run.json');
    if (fs.existsSync(firstRun)) assert.is(JSON.parse(fs.readFileSync(firstRun, 'utf8')).status, 'interrupted');
  } finally {
    fs.rmSync(runs, { recursive: true, force: true });
  }
});

test.run();
