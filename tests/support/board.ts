/** A real `xp board` process on a runs folder, for tests and benchmarks. */
import { spawn, type ChildProcess } from 'node:child_process';
import { xpBin } from './cli.js';

export interface RunningBoard {
  url: string;
  process: ChildProcess;
  stop(): void;
}

/** Starts `xp board DIR --port 0` and resolves with the URL it prints. */
export function startBoardProcess(runsDir: string): Promise<RunningBoard> {
  const child = spawn(process.execPath, [xpBin, 'board', runsDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk;
      const url = /xp board: (http:\/\/\S+)/.exec(output)?.[1];
      if (url) resolve({ url, process: child, stop: () => child.kill() });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => reject(new Error(`xp board exited (${code}): ${output}`)));
  });
}
