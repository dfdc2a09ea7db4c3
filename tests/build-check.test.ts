/**
 * `xp validate` builds what `xp run` builds: experiments the schema accepts but whose
 * components cannot be built are rejected by both, at the YAML position of the value at
 * fault, and `xp run` creates no run folder for them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, xp } from './support/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-build-'));
const quickstart = path.join(repoRoot, 'experiments', 'quickstart.yaml');

/** The 1-based line of the first line of the quick start that starts with `prefix` (after indentation). */
function lineOf(prefix: string): number {
  return fs.readFileSync(quickstart, 'utf8').split('\n').findIndex((l) => l.trimStart().startsWith(prefix)) + 1;
}

const invalid: [string, string[], RegExp][] = [
  [
    'no schedule for the noise-prediction objective',
    ['--set', '~schedule'],
    new RegExp(`^xp: ${quickstart}:${lineOf('type: noise-prediction')}:\\d+: schedule: missing section 'schedule': objective 'noise-prediction' needs it$`, 'm'),
  ],
  [
    'a 300-step DDIM on a 10-step schedule',
    ['--set', 'schedule.steps=10'],
    new RegExp(`^xp: ${quickstart}:${lineOf('steps: 300')}:\\d+: sampler\\.steps: is 300, but the schedule has only 9 timesteps to visit$`, 'm'),
  ],
  [
    'a UNet with a Down and no Up',
    ['--set', 'model.stages={start: [{type: DoubleConv, out: 8}], down1: [{type: Down, out: 16}]}'],
    /^xp: --set model\.stages=.*: model\.stages: the last block outputs 14×14×16, but the model must return the image resolution 28×28/m,
  ],
];

for (const [what, overrides, message] of invalid) {
  test(`${what}: xp validate and xp run exit 2 at the value's position; no run folder`, () => {
    const validated = xp(['validate', quickstart, ...overrides]);
    assert.is(validated.code, 2, validated.stderr);
    assert.match(validated.stderr, message);
    const runs = path.join(tmp, 'runs');
    const ran = xp(['run', quickstart, ...overrides, '--runs-dir', runs]);
    assert.is(ran.code, 2, ran.stderr);
    assert.match(ran.stderr, message);
    assert.not.ok(fs.existsSync(runs), 'no run folder');
  });
}

test('xp validate accepts every shipped experiment', () => {
  for (const file of fs.readdirSync(path.join(repoRoot, 'experiments')).filter((f) => f.endsWith('.yaml'))) {
    const result = xp(['validate', path.join('experiments', file)]);
    assert.is(result.code, 0, `${file}: ${result.stderr}`);
  }
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
