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

/** `xp` as a child process that runs while the test goes on (several at once share the cores). */
export function xpAsync(args: string[], cwd = repoRoot): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [xpBin, ...args], { cwd, env: { ...process.env, XP_BACKEND: 'wasm' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
