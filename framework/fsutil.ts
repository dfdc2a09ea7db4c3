/** File helpers shared by everything that writes results a reader may pick up mid-run. */
import fs from 'node:fs';
import path from 'node:path';

/** The prefix of every temporary file and folder xp writes before renaming it into place. */
export const TEMP_MARK = '.tmp-';

/**
 * Writes `data` to `<path>.tmp-<pid>`, flushes it to disk, then renames it over `path` and
 * flushes the folder: a reader, or a run resumed after a crash, sees the old file or the
 * complete new one, never a partial write. The pid keeps concurrent processes off each
 * other's temp file.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const temp = `${file}${TEMP_MARK}${process.pid}`;
  try {
    writeFileDurable(temp, data);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  syncFolder(path.dirname(file));
}

/**
 * Rewrites an existing small file where it lies, for when the disk is too full for a temporary
 * copy (a run recording that it failed because the disk is full): not atomic, so only a last resort.
 */
export function overwriteInPlace(file: string, data: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const bytes = Buffer.from(data);
    fs.writeSync(fd, bytes, 0, bytes.length, 0);
    fs.ftruncateSync(fd, bytes.length);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether an error says the disk (or the user's quota) is full. */
export function isDiskFull(err: unknown): boolean {
  return ['ENOSPC', 'EDQUOT'].includes((err as NodeJS.ErrnoException)?.code ?? '');
}

/** Writes a new file and flushes it to the disk before returning. */
export function writeFileDurable(file: string, data: string | Uint8Array, flag = 'w'): void {
  const fd = fs.openSync(file, flag);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a file's data to the disk (what a rename or an append left in the page cache). */
export function syncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a folder's entries (a rename into it, a new file) to the disk. */
export function syncFolder(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return; // a platform that cannot open folders (Windows) has no folder fsync either
  }
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    // Some filesystems refuse fsync on a folder; the rename is still atomic there.
    if (!['EINVAL', 'EPERM', 'EISDIR', 'EBADF'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes the temporary files and folders (`*.tmp-*`) a killed writer left in `dir`; returns their names. */
export function removeTemporaries(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const stale = fs.readdirSync(dir).filter((name) => name.includes(TEMP_MARK));
  for (const name of stale) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  return stale;
}
