/** Runs the built `xp` command line (bin/xp.js) as a user would, capturing its output. */
import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const xpBin = path.join(repoRoot, 'bin', 'xp.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function xp(args: string[], cwd = repoRoot, env: Record<string, string> = {}): CliResult {
  const result = spawnSync(process.execPath, [xpBin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, XP_BACKEND: 'wasm', ...env },
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function xpInBackground(args: string[], cwd = repoRoot): ChildProcess {
  return spawn(process.execPath, [xpBin, ...args], { cwd, env: { ...process.env, XP_BACKEND: 'wasm' }, stdio: 'ignore' });
}
