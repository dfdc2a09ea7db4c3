/**
 * A sweep across machines, for real: Debian's redis-server on loopback, `xp worker` processes,
 * one of them killed mid-trial with SIGKILL. Every trial must still complete exactly once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { xp, xpBin, repoRoot } from './support/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-redis-'));
const processes: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, seconds = 240): Promise<T> {
  for (let i = 0; i < seconds * 10; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function startWorker(url: string, name: string): ChildProcess {
  const log = fs.openSync(path.join(tmp, `${name}.log`), 'w');
  const child = spawn(process.execPath, [xpBin, 'worker', '--redis', url, '--lock-seconds', '4'], {
    cwd: repoRoot,
    stdio: ['ignore', log, log],
    env: { ...process.env, XP_BACKEND: 'wasm' },
  });
  processes.push(child);
  return child;
}

const runInfo = (dir: string) => {
  const file = path.join(dir, 'run.json');
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
};

test('two workers, one killed mid-trial: every trial completes once, resuming from its checkpoint', async () => {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  processes.push(redis);
  await waitFor(() => new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => (socket.end(), resolve(true))).on('error', () => resolve(false));
  }), 'redis-server');
  const url = `redis://127.0.0.1:${port}`;
  const runs = path.join(tmp, 'runs');

  const queued = xp([
    'sweep', 'experiments/sweep-ema-beta.yaml', '--launcher', 'redis', '--redis', url, '--detach', '--runs-dir', runs,
    '--grid', 'callbacks.ema.beta=0.9,0.99', '--set', 'trainer.max_steps=60', '--set', 'dataset.batch_size=4',
    '--set', 'callbacks.checkpoints.every_steps=2', '--set', 'callbacks.samples.every_steps=0',
    '--set', 'callbacks.ema_samples.every_steps=0', '--set', 'callbacks.samples.at_end=false',
    '--set', 'callbacks.ema_samples.at_end=false', '--set', '~callbacks.final_samples',
  ]);
  assert.is(queued.code, 0, queued.stderr);
  const [stamp] = fs.readdirSync(path.join(runs, 'sweep-ema-beta'));
  const sweepDir = path.join(runs, 'sweep-ema-beta', stamp);
  const trialDirs = ['trial-0-beta=0.9', 'trial-1-beta=0.99'].map((name) => path.join(sweepDir, name));

  const doomed = startWorker(url, 'worker-a');
  const victim = await waitFor(
    () => trialDirs.find((dir) => fs.existsSync(path.join(dir, 'checkpoints', 'step-00000004'))),
    'a checkpoint from the first worker',
  );
  doomed.kill('SIGKILL');
  const killedAtStep = runInfo(victim)?.steps;
  assert.ok(runInfo(victim)?.status === 'running' && killedAtStep < 60, 'killed mid-trial');

  startWorker(url, 'worker-b');
  await waitFor(() => trialDirs.every((dir) => runInfo(dir)?.status === 'completed'), 'both trials to complete');

  for (const dir of trialDirs) assert.is(runInfo(dir).steps, 60);
  const survivorLog = fs.readFileSync(path.join(tmp, 'worker-b.log'), 'utf8');
  assert.match(survivorLog, `${path.basename(victim)}: resuming`);
  assert.is(fs.readdirSync(victim).filter((f) => f.startsWith('events.out.tfevents.')).length, 2, 'the first event file is kept');
  const queue = new Queue('xp-trials', { connection: { host: '127.0.0.1', port } });
  try {
    const completed = await queue.getCompleted();
    assert.is(completed.length, 2, 'each trial completed once');
    assert.equal(completed.map((job) => job.returnvalue.status).sort(), ['completed', 'completed']);
  } finally {
    await queue.close();
  }
  const status = xp(['sweep', '--status', sweepDir]);
  assert.match(status.stdout, /trial-0-beta=0\.9\s+0\.9\s+completed\s+60/);
});

test.after(() => {
  for (const child of processes) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});
test.run();
