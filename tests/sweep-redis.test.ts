/**
 * Sweeps across machines, for real: Debian's redis-server on loopback, `xp worker` processes,
 * one of them killed mid-trial with SIGKILL (every trial must still complete exactly once), and
 * forged jobs written straight to the queue (each must be refused, changing nothing outside the
 * runs folder and running no code).
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
import { signJob } from '../app/sweep/redis.js';

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

/** A redis-server of our own on a free loopback port; returns its port. */
async function startRedis(): Promise<number> {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  processes.push(redis);
  await waitFor(() => new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => (socket.end(), resolve(true))).on('error', () => resolve(false));
  }), 'redis-server');
  return port;
}

function startWorker(url: string, name: string, runs: string, env: Record<string, string> = {}): ChildProcess {
  const log = fs.openSync(path.join(tmp, `${name}.log`), 'w');
  const child = spawn(process.execPath, [xpBin, 'worker', '--redis', url, '--runs-dir', runs, '--lock-seconds', '4'], {
    cwd: repoRoot,
    stdio: ['ignore', log, log],
    env: { ...process.env, XP_BACKEND: 'wasm', ...env },
  });
  processes.push(child);
  return child;
}

const runInfo = (dir: string) => {
  const file = path.join(dir, 'run.json');
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
};

/** A short trial: no sample images, a checkpoint every 2 steps. */
const tinyTrial = (steps: number) => [
  '--set', `trainer.max_steps=${steps}`, '--set', 'dataset.batch_size=4',
  '--set', 'callbacks.checkpoints.every_steps=2', '--set', 'callbacks.samples.every_steps=0',
  '--set', 'callbacks.ema_samples.every_steps=0', '--set', 'callbacks.samples.at_end=false',
  '--set', 'callbacks.ema_samples.at_end=false', '--set', '~callbacks.final_samples',
];

test('two workers, one killed mid-trial: every trial completes once, resuming from its checkpoint', async () => {
  const port = await startRedis();
  const url = `redis://127.0.0.1:${port}`;
  const runs = path.join(tmp, 'runs');

  const queued = xp([
    'sweep', 'experiments/sweep-ema-beta.yaml', '--launcher', 'redis', '--redis', url, '--detach', '--runs-dir', runs,
    '--grid', 'callbacks.ema.beta=0.9,0.99', ...tinyTrial(60),
  ]);
  assert.is(queued.code, 0, queued.stderr);
  const [stamp] = fs.readdirSync(path.join(runs, 'sweep-ema-beta'));
  const sweepDir = path.join(runs, 'sweep-ema-beta', stamp);
  const trialDirs = ['trial-0-beta=0.9', 'trial-1-beta=0.99'].map((name) => path.join(sweepDir, name));

  const doomed = startWorker(url, 'worker-a', runs);
  const victim = await waitFor(
    () => trialDirs.find((dir) => fs.existsSync(path.join(dir, 'checkpoints', 'step-00000004'))),
    'a checkpoint from the first worker',
  );
  doomed.kill('SIGKILL');
  const killedAtStep = runInfo(victim)?.steps;
  assert.ok(runInfo(victim)?.status === 'running' && killedAtStep < 60, 'killed mid-trial');

  startWorker(url, 'worker-b', runs);
  const queue = new Queue('xp-trials', { connection: { host: '127.0.0.1', port } });
  try {
    await waitFor(async () => (await queue.getCompletedCount()) === 2, 'both jobs to complete');
    const completed = await queue.getCompleted();
    assert.equal(completed.map((job) => job.returnvalue.status).sort(), ['completed', 'completed'], 'each trial completed once');
  } finally {
    await queue.close();
  }
  for (const dir of trialDirs) assert.equal([runInfo(dir).status, runInfo(dir).steps], ['completed', 60]);
  const survivorLog = fs.readFileSync(path.join(tmp, 'worker-b.log'), 'utf8');
  assert.match(survivorLog, `${path.basename(victim)}: resuming`);
  assert.is(fs.readdirSync(victim).filter((f) => f.startsWith('events.out.tfevents.')).length, 2, 'the first event file is kept');
  const status = xp(['sweep', '--status', sweepDir]);
  assert.match(status.stdout, /trial-0-beta=0\.9\s+0\.9\s+completed\s+60/);
});

/** Every file below `dir` with its size and modification time, to see that nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const stat = fs.lstatSync(full);
    out[path.relative(dir, full)] = `${stat.size}:${stat.mtimeMs}`;
  }
  return out;
}

test('forged jobs (argument injection, traversal, imports, unsigned) are refused and change nothing outside the runs folder', async () => {
  const port = await startRedis();
  const url = `redis://127.0.0.1:${port}`;
  const secret = 'a shared secret';
  const root = path.join(tmp, 'forged');
  const runs = path.join(root, 'runs');
  const outside = path.join(root, 'outside');
  fs.mkdirSync(outside, { recursive: true });
  fs.writeFileSync(path.join(outside, 'precious.txt'), 'keep me');
  const marker = path.join(outside, 'pwned');
  const evilModule = path.join(outside, 'evil.ts');
  fs.writeFileSync(evilModule, `import fs from 'node:fs';\nfs.writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);

  // A real sweep, queued and signed by the sweep command.
  const queued = xp(
    ['sweep', 'experiments/sweep-ema-beta.yaml', '--launcher', 'redis', '--redis', url, '--detach', '--runs-dir', runs,
      '--grid', 'callbacks.ema.beta=0.9', ...tinyTrial(2)],
    repoRoot,
    { XP_QUEUE_SECRET: secret },
  );
  assert.is(queued.code, 0, queued.stderr);
  const sweepId = `sweep-ema-beta/${fs.readdirSync(path.join(runs, 'sweep-ema-beta'))[0]}`;
  const sweepDir = path.join(runs, sweepId);

  // A sweep folder whose experiment imports a module outside it, and one whose trial name climbs out.
  const importing = path.join(runs, 'importing', '1');
  fs.mkdirSync(importing, { recursive: true });
  fs.copyFileSync(path.join(sweepDir, 'sweep.json'), path.join(importing, 'sweep.json'));
  fs.writeFileSync(path.join(importing, 'experiment.yaml'), `imports: [${evilModule}]\n${fs.readFileSync(path.join(sweepDir, 'experiment.yaml'), 'utf8')}`);
  const climbing = path.join(runs, 'climbing', '1');
  fs.mkdirSync(climbing, { recursive: true });
  fs.copyFileSync(path.join(sweepDir, 'experiment.yaml'), path.join(climbing, 'experiment.yaml'));
  fs.writeFileSync(path.join(climbing, 'sweep.json'), JSON.stringify({ experiment: 'experiment.yaml', trials: [{ index: 0, name: '../../../outside', params: {} }] }));
  fs.symlinkSync(outside, path.join(runs, 'linked'));
  const before = snapshot(outside);

  const signed = (sweep: string, trial: number) => ({ sweep, trial, signature: signJob(secret, sweep, trial) });
  const forged: Record<string, object> = {
    'arguments and paths of the old job format': {
      task: { file: path.join(outside, 'x.yaml'), sweepDir: outside, common: ['--import', evilModule] },
      trial: { index: 0, name: '../../outside', params: {} },
    },
    'an extra argument list': { ...signed(sweepId, 0), args: ['--import', evilModule] },
    'a sweep path that climbs out': signed('../outside', 0),
    'an absolute sweep path': signed(outside, 0),
    'a sweep through a link out of the runs folder': signed('linked', 0),
    'no signature': { sweep: sweepId, trial: 0 },
    'a signature for another trial': { sweep: sweepId, trial: 0, signature: signJob(secret, sweepId, 1) },
    'a trial the sweep does not have': signed(sweepId, 5),
    'an experiment importing a module outside its sweep': signed('importing/1', 0),
    'a trial name that climbs out': signed('climbing/1', 0),
    'a __proto__ key': JSON.parse(`{"__proto__": {"polluted": true}, "sweep": "${sweepId}", "trial": 0}`),
  };
  const queue = new Queue('xp-trials', { connection: { host: '127.0.0.1', port } });
  try {
    for (const [name, data] of Object.entries(forged)) await queue.add(name, data, { jobId: `forged-${Object.keys(forged).indexOf(name)}`, attempts: 2 });
    startWorker(url, 'worker-forged', runs, { XP_QUEUE_SECRET: secret });
    await waitFor(async () => (await queue.getFailedCount()) === Object.keys(forged).length && (await queue.getCompletedCount()) === 1, 'every job to settle', 120);
    for (const job of await queue.getFailed()) {
      assert.match(job.failedReason, /^rejected: /, `${job.name}: ${job.failedReason}`);
      assert.is(job.attemptsMade, 1, `${job.name} is not retried`);
    }
    const reasons = Object.fromEntries((await queue.getFailed()).map((job) => [job.name, job.failedReason]));
    assert.match(reasons['no signature'], 'not signed');
    assert.match(reasons['an experiment importing a module outside its sweep'], /outside the sweep's folder; start the worker with --allow-imports/);
    assert.match(reasons['a trial name that climbs out'], /not a trial folder name/);
    assert.match(reasons['a sweep through a link out of the runs folder'], /no such sweep folder/);
    assert.match(reasons['a __proto__ key'], "has a field '__proto__'");
    assert.match(reasons['an extra argument list'], "has a field 'args'");
    const [legit] = await queue.getCompleted();
    assert.is(legit.returnvalue.status, 'completed', 'the signed job of the real sweep ran');
  } finally {
    await queue.close();
  }
  assert.not.ok(fs.existsSync(marker), 'no imported module ran');
  assert.equal(snapshot(outside), before, 'nothing outside the runs folder changed');
  assert.equal(fs.readdirSync(root).sort(), ['outside', 'runs']);
  assert.is(runInfo(path.join(sweepDir, 'trial-0-beta=0.9')).status, 'completed');
});

test.after(() => {
  for (const child of processes) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});
test.run();
