/**
 * One writer per run folder: `run.lock` names the process that writes the folder (pid, host)
 * and a lease it renews. Another process refuses the folder while the lease is live; a lock
 * whose process is dead (same host) or whose lease ran out (any host: a killed or partitioned
 * machine) is stale and taken over. A holder that finds its lock taken stops writing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { XpError } from '../errors.js';
import { writeFileAtomic, writeFileDurable } from '../fsutil.js';

export const LOCK_FILE = 'run.lock';
export const DEFAULT_LEASE_SECONDS = 30;

export interface LockHolder {
  pid: number;
  host: string;
  /** When the lease ends unless renewed (ms since the epoch, the holder's clock). */
  leaseUntil: number;
  /** Tells this holding apart from an earlier one of the same process. */
  token: string;
}

/** Refused: the run folder has a live writer. */
export class RunLockedError extends XpError {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
  ) {
    super(`${dir} is being written by ${describeHolder(holder)}; wait for it to end or stop it first`);
  }
}

export function describeHolder(holder: LockHolder): string {
  return `process ${holder.pid} on ${holder.host} (lease until ${new Date(holder.leaseUntil).toISOString()})`;
}

export class RunLock {
  private renewTimer?: NodeJS.Timeout;
  private lost = false;
  private renewedAt = Date.now();

  private constructor(
    readonly dir: string,
    private holder: LockHolder,
    private readonly leaseMs: number,
    private readonly onLost: (by: LockHolder | undefined) => void,
  ) {}

  /**
   * Takes the folder's lock (over a stale one) and renews it every third of the lease;
   * `onLost` runs once if another process takes it over meanwhile.
   */
  static acquire(dir: string, options: { leaseSeconds?: number; onLost?: (by: LockHolder | undefined) => void } = {}): RunLock {
    const leaseMs = (options.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
    const mine: LockHolder = { pid: process.pid, host: os.hostname(), leaseUntil: Date.now() + leaseMs, token: crypto.randomUUID() };
    const file = path.join(dir, LOCK_FILE);
    // Three tries: each failed one moved a stale lock aside, which another process may re-take.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createExclusive(file, mine)) {
        const lock = new RunLock(dir, mine, leaseMs, options.onLost ?? (() => {}));
        lock.renewTimer = setInterval(() => lock.renew(), leaseMs / 3).unref();
        return lock;
      }
      const current = readHolder(file);
      if (current && isLive(current)) throw new RunLockedError(dir, current);
      moveStaleAside(file, current);
    }
    throw new XpError(`${dir}: could not take the run folder's lock (other processes keep taking it)`);
  }

  /**
   * Renews the lease if a third of it has passed. For callers on a busy thread: a loop that never
   * yields to the event loop starves the renewal timer, and the lease would run out mid-run.
   */
  renewIfDue(): void {
    if (Date.now() - this.renewedAt >= this.leaseMs / 3) this.renew();
  }

  /** The live holder of a folder's lock, if any. */
  static liveHolder(dir: string): LockHolder | undefined {
    const holder = readHolder(path.join(dir, LOCK_FILE));
    return holder && isLive(holder) ? holder : undefined;
  }

  /** Whether this process still holds the lock; on first finding it lost, runs onLost. */
  held(): boolean {
    if (this.lost) return false;
    const current = readHolder(path.join(this.dir, LOCK_FILE));
    if (current?.token === this.holder.token) return true;
    this.lost = true;
    clearInterval(this.renewTimer);
    this.onLost(current);
    return false;
  }

  /** Throws unless this process still holds the lock: checked before committing anything. */
  assertHeld(): void {
    if (!this.held()) throw new XpError(`${this.dir}: another process took this run folder over; nothing more is written`);
  }

  release(): void {
    clearInterval(this.renewTimer);
    if (this.lost) return;
    if (readHolder(path.join(this.dir, LOCK_FILE))?.token === this.holder.token) fs.rmSync(path.join(this.dir, LOCK_FILE), { force: true });
    this.lost = true;
  }

  private renew(): void {
    if (!this.held()) return;
    this.holder = { ...this.holder, leaseUntil: Date.now() + this.leaseMs };
    this.renewedAt = Date.now();
    try {
      writeFileAtomic(path.join(this.dir, LOCK_FILE), JSON.stringify(this.holder));
    } catch {
      // A renewal that fails (a full disk) is retried next time; the lease has two more thirds.
    }
  }
}

/** Creates the lock file only where none exists: a hard link fails on an existing name, atomically, NFS included. */
function createExclusive(file: string, holder: LockHolder): boolean {
  const temp = `${file}.${holder.token}`;
  writeFileDurable(temp, JSON.stringify(holder));
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Moves a stale lock out of the way. Another process may have done so and taken the lock
 * since we read it: a lock moved aside that is not the stale one we read is put back.
 */
function moveStaleAside(file: string, stale: LockHolder | undefined): void {
  const aside = `${file}.stale-${crypto.randomUUID()}`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readHolder(aside);
  if (moved && moved.token !== stale?.token && isLive(moved)) {
    try {
      fs.linkSync(aside, file);
    } catch {
      // someone else holds it now; they will find theirs intact and the one we moved gone
    }
  }
  fs.rmSync(aside, { force: true });
}

function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    const valid = Number.isInteger(value.pid) && typeof value.host === 'string' && Number.isFinite(value.leaseUntil) && typeof value.token === 'string';
    // An unreadable lock file holds nothing: it is stale (a zero lease says so).
    return valid ? (value as LockHolder) : { pid: 0, host: '', leaseUntil: 0, token: 'unreadable' };
  } catch {
    return { pid: 0, host: '', leaseUntil: 0, token: 'unreadable' };
  }
}

/** Live: the lease has not run out and, on this host, the process still exists. */
function isLive(holder: LockHolder): boolean {
  if (holder.leaseUntil < Date.now()) return false;
  if (holder.host !== os.hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
