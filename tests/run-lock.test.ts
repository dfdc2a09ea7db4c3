/** One writer per run folder: run.lock with pid, host and lease; stale locks are taken over. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCK_FILE, RunLock, RunLockedError, type LockHolder } from '../framework/run/run-lock.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-lock-'));
let folders = 0;

function folderWithLock(holder?: Partial<LockHolder>): string {
  const dir = path.join(tmp, `run-${folders++}`);
  fs.mkdirSync(dir);
  if (holder) {
    const full = { pid: process.pid, host: os.hostname(), leaseUntil: Date.now() + 60_000, token: 'theirs', ...holder };
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(full));
  }
  return dir;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

test('a second writer is refused with the holder named; release frees the folder', () => {
  const dir = folderWithLock();
  const lock = RunLock.acquire(dir);
  try {
    assert.throws(() => RunLock.acquire(dir), (err: Error) => err instanceof RunLockedError && err.message.includes(`process ${process.pid} on ${os.hostname()}`));
    assert.is(RunLock.liveHolder(dir)?.pid, process.pid);
  } finally {
    lock.release();
  }
  assert.not.ok(fs.existsSync(path.join(dir, LOCK_FILE)));
  RunLock.acquire(dir).release();
});

test('a lock of a dead process on this host is stale and taken over at once', () => {
  const dir = folderWithLock({ pid: deadPid() });
  const lock = RunLock.acquire(dir);
  assert.is(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  lock.release();
});

test('another host: a live lease refuses, an expired one is taken over; unreadable locks are stale', () => {
  assert.throws(() => RunLock.acquire(folderWithLock({ host: 'elsewhere', pid: 1 })), (err: Error) => err instanceof RunLockedError);
  RunLock.acquire(folderWithLock({ host: 'elsewhere', pid: 1, leaseUntil: Date.now() - 1 })).release();
  const garbled = folderWithLock();
  fs.writeFileSync(path.join(garbled, LOCK_FILE), '{"pid": ');
  RunLock.acquire(garbled).release();
});

test('a holder whose lock was taken over finds out, once, and stops writing', () => {
  const dir = folderWithLock();
  const losses: (LockHolder | undefined)[] = [];
  const lock = RunLock.acquire(dir, { onLost: (by) => losses.push(by) });
  assert.ok(lock.held());
  // What a takeover after an expired lease leaves: another process's lock in the file.
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', leaseUntil: Date.now() + 60_000, token: 'new' }));
  assert.not.ok(lock.held());
  assert.not.ok(lock.held());
  assert.is(losses.length, 1);
  assert.is(losses[0]?.host, 'elsewhere');
  assert.throws(() => lock.assertHeld(), /took this run folder over/);
  lock.release();
  assert.ok(fs.existsSync(path.join(dir, LOCK_FILE)), "release leaves the new holder's lock alone");
});

test('the lease is renewed while the holder lives', async () => {
  const dir = folderWithLock();
  const lock = RunLock.acquire(dir, { leaseSeconds: 0.3 });
  try {
    const first = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).leaseUntil;
    await new Promise((resolve) => setTimeout(resolve, 450));
    const later = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).leaseUntil;
    assert.ok(later > first, 'renewed');
    assert.ok(later > Date.now(), 'still live');
  } finally {
    lock.release();
  }
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
