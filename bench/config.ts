/**
 * Config validation at scale: experiment files of 0.5, 1 and 2 MB in four shapes (many callbacks,
 * a long sweep trials list, a large child extending the quick start, many unknown keys each
 * reported), resolved end to end (parse, extends, schema, every issue). Time per MB that stays
 * flat as the file grows is linear scaling; the target is a 2 MB file in under a second.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveExperiment } from '../framework/config/resolve.js';
import { ConfigError } from '../framework/config/issues.js';
import { registerBuiltins } from '../components/index.js';
import { packageRoot } from '../framework/paths.js';
import { medianOfRounds, table, type Benchmark } from './harness.js';

const MEGABYTE = 1 << 20;
const SIZES_MB = [0.5, 1, 2];

/** Each shape: the lines repeated until the file reaches its size. */
const SHAPES: Record<string, { head: string; line: (i: number) => string }> = {
  callbacks: { head: 'extends: quickstart.yaml\ncallbacks:\n', line: (i) => `  ema_${i}: { type: ema, beta: 0.99, warmup_steps: ${i} }\n` },
  'sweep trials': { head: 'extends: quickstart.yaml\nsweep:\n  trials:\n', line: (i) => `    - { seed: ${i}, optimizer.lr: 0.00${(i % 9) + 1} }\n` },
  'unknown keys': { head: 'extends: quickstart.yaml\noptimizer:\n', line: (i) => `  unknown_key_${i}: ${i}\n` },
};

function writeShape(dir: string, name: string, megabytes: number): string {
  const { head, line } = SHAPES[name];
  const parts = [head];
  let size = head.length;
  for (let i = 0; size < megabytes * MEGABYTE; i++) {
    const text = line(i);
    parts.push(text);
    size += text.length;
  }
  const file = path.join(dir, `${name.replace(/ /g, '-')}-${megabytes}.yaml`);
  fs.writeFileSync(file, parts.join(''));
  return file;
}

/** Resolves the file; a ConfigError (the unknown keys) is a result too: all its issues were found. */
async function resolveTimed(file: string): Promise<number> {
  try {
    await resolveExperiment(file, { registry: registerBuiltins() });
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.length;
    throw err;
  }
}

export const config: Benchmark = {
  name: 'config',
  description: 'resolving and validating large experiment files (linear in the number of keys)',
  async run() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-bench-config-'));
    try {
      fs.copyFileSync(path.join(packageRoot, 'experiments', 'quickstart.yaml'), path.join(dir, 'quickstart.yaml'));
      const rows: (string | number)[][] = [];
      const data: Record<string, Record<string, number>> = {};
      for (const shape of Object.keys(SHAPES)) {
        data[shape] = {};
        for (const megabytes of SIZES_MB) {
          const file = writeShape(dir, shape, megabytes);
          let issues = 0;
          const { ms } = await medianOfRounds({ ms: async () => (issues = await resolveTimed(file)) }, { warmup: 1, reps: 3 });
          data[shape][`${megabytes}MB`] = ms;
          rows.push([shape, megabytes, issues, ms.toFixed(0), (ms / megabytes).toFixed(0)]);
        }
      }
      return { report: table(['shape', 'MB', 'issues', 'ms (median of 3)', 'ms per MB'], rows), data: { ms: data } };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
