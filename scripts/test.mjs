#!/usr/bin/env node
// Runs every uvu suite under tests/ (TypeScript through tsx) and ends with the line
// `N passed, M failed` that CI reads. Extra arguments narrow the file pattern.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const pattern = process.argv[2] ?? '\\.test\\.ts$';
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');
const child = spawn(process.execPath, ['--import', 'tsx', uvu, 'tests', pattern, '--color=false'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, XP_BACKEND: process.env.XP_BACKEND ?? 'wasm' },
});

let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  // A suite that crashed before reporting counts as one failure.
  const failed = total - passed - skipped + (code !== 0 && total === passed ? 1 : 0);
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || code !== 0 ? 1 : 0;
});
