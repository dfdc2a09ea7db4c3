/**
 * What the board may read under RUNS_DIR, and nothing else: run folders (those holding
 * run.json) and sweep folders (sweep.json), found without following symbolic links, named by
 * their '/'-separated path below the root; files read only when they are regular files, not
 * links, and not too large.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface FolderIndex {
  /** Run id -> absolute folder. */
  runs: Map<string, string>;
  /** Sweep id -> absolute folder. */
  sweeps: Map<string, string>;
}

/** Deeper than runs/<sweep>/<stamp>/<trial>/ with room to spare. */
const MAX_DEPTH = 8;

/** Every run and sweep folder at or below `root` (an absolute path without symbolic links). */
export function indexFolders(root: string): FolderIndex {
  const index: FolderIndex = { runs: new Map(), sweeps: new Map() };
  const visit = (dir: string, id: string, depth: number) => {
    if (isRegularFile(path.join(dir, 'run.json'))) {
      index.runs.set(id, dir);
      return; // a run's own subfolders (samples/, checkpoints/) hold no runs
    }
    if (isRegularFile(path.join(dir, 'sweep.json'))) index.sweeps.set(id, dir);
    if (depth === MAX_DEPTH) return;
    for (const entry of readDir(dir)) {
      // Dirent does not follow links: a linked folder is neither searched nor served.
      if (entry.isDirectory() && !entry.name.startsWith('.')) visit(path.join(dir, entry.name), id ? `${id}/${entry.name}` : entry.name, depth + 1);
    }
  };
  visit(root, '', 0);
  return index;
}

/** The entries of a folder in name order, numbers compared as numbers (trial-9 before trial-10); none if it vanished. */
export function readDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  } catch {
    return [];
  }
}

export function isRegularFile(file: string): boolean {
  return fs.lstatSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
}

/**
 * A small text file of a run or sweep folder: refused (with the reason) when it is missing, a
 * link, or larger than `maxBytes`.
 */
export function readSmallFile(file: string, maxBytes = 4 << 20): string {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  const name = path.basename(file);
  if (!stat) throw new Error(`${name} is missing`);
  if (!stat.isFile()) throw new Error(`${name} is not a regular file`);
  if (stat.size > maxBytes) throw new Error(`${name} is larger than ${maxBytes} bytes`);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Why `id` cannot name a folder below the root, or undefined when its form is fine: relative,
 * '/'-separated, no empty, '.' or '..' segment, no backslash or NUL. Being well formed is not
 * enough to be served: the id must also be in the index.
 */
export function badId(id: string): string | undefined {
  if (id.length === 0 || id.length > 1024) return 'an id is 1 to 1024 characters';
  if (id.startsWith('/') || /^[a-zA-Z]:/.test(id)) return 'an id is a path relative to RUNS_DIR';
  if (/[\\\0]/.test(id)) return 'an id has no backslash or NUL';
  if (id.split('/').some((part) => part === '' || part === '.' || part === '..')) return "an id has no empty, '.' or '..' part";
  return undefined;
}
