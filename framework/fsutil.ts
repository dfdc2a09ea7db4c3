/** File helpers shared by everything that writes results a reader may pick up mid-run. */
import fs from 'node:fs';

/**
 * Writes `data` to `<path>.tmp-<pid>`, flushes it to disk, then renames it over `path`:
 * a reader, or a run resumed after a crash, sees the old file or the complete new one,
 * never a partial write. The pid keeps concurrent processes off each other's temp file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temp = `${path}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(temp, 'w');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, path);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}
