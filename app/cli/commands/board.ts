/**
 * `xp board [RUNS_DIR] [--port N] [--host H] [--open]`: serves the board, a page that shows the
 * runs and sweeps under RUNS_DIR (default ./runs, or XP_RUNS_DIR) from their run folders and
 * event files, live, until Ctrl-C.
 */
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { XpError } from '../../../framework/errors.js';
import { startBoard } from '../../board/server.js';

export interface BoardCommandOptions {
  port: number;
  host: string;
  open?: boolean;
}

export async function board(dir: string | undefined, opts: BoardCommandOptions): Promise<void> {
  const root = dir ?? process.env.XP_RUNS_DIR ?? 'runs';
  if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new XpError(`${root}: no such folder`);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new XpError(`--port ${opts.port}: a port is an integer from 0 to 65535`);
  const { url, close } = await startBoard({ runsDir: root, port: opts.port, host: opts.host });
  console.log(`xp board: ${url}  (runs under ${root}; Ctrl-C stops)`);
  if (!['127.0.0.1', 'localhost', '::1'].includes(opts.host)) {
    console.error(`note: listening on ${opts.host}: whoever reaches this machine on that port can read these runs`);
  }
  if (opts.open) openInBrowser(url);
  const stop = () => void close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** The desktop's browser, where there is one; the URL is printed either way. */
function openInBrowser(url: string): void {
  const [command, ...args] =
    process.platform === 'darwin' ? ['open', url] : process.platform === 'win32' ? ['cmd', '/c', 'start', '', url] : ['xdg-open', url];
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.on('error', () => console.error(`note: could not start a browser (${command}); open ${url}`));
  child.unref();
}
