import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveExperiment } from '../framework/config/resolve.js';
import { ConfigError, formatIssue, type Issue } from '../framework/config/issues.js';
import { registerBuiltins } from '../components/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-config-'));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

async function issuesOf(file: string, overrides: string[] = []): Promise<Issue[]> {
  try {
    await resolveExperiment(file, { registry: registerBuiltins(), overrides });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  assert.unreachable('expected a ConfigError');
  return [];
}

const base = write(
  'base.yaml',
  `name: base
seed: 3
dataset: { type: mnist, batch_size: 32, limit: 64 }
model:
  type: UNet
  stages:
    start: [{ type: DoubleConv, out: 8 }]
schedule: { type: linear, steps: 20 }
optimizer: { type: adam, lr: 0.001 }
sampler: { type: ddpm }
objective: { type: noise-prediction }
trainer: { epochs: 2 }
callbacks:
  samples: { type: sample-images, n: 4 }
`,
);

test('a file with three different mistakes reports all three with file:line:column', async () => {
  const file = write(
    'three.yaml',
    `extends: base.yaml
optimizer: { type: adam, lr: -1 }
trainer: { epochs: "many" }
callbacks:
  ema: { type: ema, bta: 0.99 }
`,
  );
  const issues = await issuesOf(file);
  assert.is(issues.length, 3, issues.map(formatIssue).join('\n'));
  const [lr, epochs, bta] = issues;
  assert.equal([lr.pos?.line, lr.path], [2, 'optimizer.lr']);
  assert.match(lr.message, /> 0/);
  assert.equal([epochs.pos?.line, epochs.path], [3, 'trainer.epochs']);
  assert.match(epochs.message, /integer/);
  assert.equal([bta.pos?.file, bta.pos?.line, bta.pos?.col, bta.path], [file, 5, 21, 'callbacks.ema.bta']);
  assert.match(bta.message, /did you mean 'beta'/);
  assert.match(formatIssue(bta), new RegExp(`^${file}:5:21: callbacks.ema.bta: unknown key`));
});

test('unknown component types suggest the nearest registered name', async () => {
  const file = write('typo.yaml', `extends: base.yaml\ncallbacks:\n  ema: { type: emma }\n`);
  const [issue] = await issuesOf(file);
  assert.is(issue.path, 'callbacks.ema.type');
  assert.match(issue.message, /unknown callback type "emma"; did you mean 'ema'\?/);
  assert.is(issue.pos?.line, 3);
});

test('malformed YAML is reported with its position', async () => {
  const file = write('broken.yaml', `seed: 1\nmodel: { type: UNet\n`);
  const issues = await issuesOf(file);
  assert.ok(issues.length >= 1);
  assert.match(issues[0].message, /malformed YAML/);
  assert.is(issues[0].pos?.file, file);
  assert.ok((issues[0].pos?.line ?? 0) >= 2);
});

test('extends: maps merge deeply, lists replace, a changed type replaces the component, name is not inherited', async () => {
  const file = write(
    'child.yaml',
    `extends: base.yaml
dataset: { batch_size: 16 }
model:
  stages:
    start: [{ type: DoubleConv, out: 4 }, { type: DoubleConv, out: 6 }]
sampler: { type: ddim, steps: 5 }
`,
  );
  const { value } = await resolveExperiment(file, { registry: registerBuiltins() });
  assert.is(value.name, 'child');
  assert.equal(value.dataset, {
    type: 'mnist', batch_size: 16, limit: 64, split: 'train', shuffle: false, normalize: 'standardize', drop_last: false,
  });
  const stages = (value.model as { stages: Record<string, unknown[]> }).stages;
  assert.equal(stages.start, [{ type: 'DoubleConv', out: 4, residual: false }, { type: 'DoubleConv', out: 6, residual: false }]);
  assert.equal((value.sampler as Record<string, unknown>).type, 'ddim');
  assert.is((value.sampler as Record<string, unknown>).steps, 5);
  assert.is(value.seed, 3);
});

test('extends cycles and missing parents are errors at the extends line', async () => {
  write('a.yaml', 'extends: b.yaml\n');
  write('b.yaml', 'seed: 1\nextends: a.yaml\n');
  const [cycle] = await issuesOf(path.join(dir, 'a.yaml'));
  assert.match(cycle.message, /extends cycle: a\.yaml -> b\.yaml -> a\.yaml/);
  assert.equal([cycle.pos?.file, cycle.pos?.line], [path.join(dir, 'b.yaml'), 2]);
  const missing = write('missing.yaml', 'seed: 1\nextends: nowhere.yaml\n');
  const [issue] = await issuesOf(missing);
  assert.match(issue.message, /cannot extend 'nowhere\.yaml': no such file/);
  assert.is(issue.pos?.line, 2);
});

test('overrides: values parse as YAML, + adds, ~ deletes, and a bad path suggests the nearest key', async () => {
  const { value } = await resolveExperiment(base, {
    registry: registerBuiltins(),
    overrides: ['optimizer.lr=1e-4', '+callbacks.ema.type=ema', 'callbacks.ema.beta=0.9', '~callbacks.samples', 'trainer.max_steps=3'],
  });
  assert.is((value.optimizer as Record<string, unknown>).lr, 1e-4);
  assert.equal(Object.keys(value.callbacks as object), ['ema']);
  assert.is((value.callbacks as Record<string, Record<string, unknown>>).ema.beta, 0.9);
  assert.is((value.trainer as Record<string, unknown>).max_steps, 3);

  const issues = await issuesOf(base, ['callbacks.smaples.n=3', 'trainer.max_steps=-1']);
  assert.is(issues.length, 2);
  const bad = issues.find((i) => i.path === 'callbacks.smaples.n')!;
  assert.match(bad.message, /'callbacks' has no 'smaples'; did you mean 'samples'\?/);
  assert.is(bad.pos?.file, '--set callbacks.smaples.n=3');
  const range = issues.find((i) => i.path === 'trainer.max_steps')!;
  assert.is(range.pos?.file, '--set trainer.max_steps=-1');
  assert.match(range.message, />= 1/);
});

test('an EMA beta outside (0, 1) is out of range', async () => {
  const issues = await issuesOf(base, ['+callbacks.ema.type=ema', 'callbacks.ema.beta=1.5']);
  assert.is(issues.length, 1);
  assert.is(issues[0].path, 'callbacks.ema.beta');
  assert.match(issues[0].message, /< 1/);
});

test('missing required sections are named', async () => {
  const file = write('empty.yaml', 'seed: 1\n');
  const paths = (await issuesOf(file)).map((i) => i.path).sort();
  assert.equal(paths, ['dataset', 'model', 'objective', 'optimizer', 'trainer']);
});

test('keys that reach the object model are refused in YAML and in --set, with their position', async () => {
  const file = write('proto.yaml', `extends: base.yaml\noptimizer:\n  __proto__: { polluted: true }\n  constructor: 1\n`);
  const issues = await issuesOf(file);
  assert.equal(issues.map((i) => [i.pos?.line, i.path]), [[3, 'optimizer.__proto__'], [4, 'optimizer.constructor']]);
  assert.match(issues[0].message, "the key '__proto__' is not allowed");
  for (const override of ['__proto__.polluted=1', 'optimizer.prototype=1', '+callbacks.x={__proto__: {polluted: 1}}']) {
    const [issue] = await issuesOf(base, [override]);
    assert.is(issue.pos?.file, `--set ${override}`);
    assert.match(issue.message, /the key '(__proto__|prototype)' is not allowed/);
  }
  assert.is(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
});

test('names that become folders are plain', async () => {
  for (const name of ['../../escaped', 'a/b', '.hidden', '']) {
    const [issue] = await issuesOf(base, [`name=${JSON.stringify(name)}`]);
    assert.is(issue.path, 'name', name);
    assert.match(issue.message, /must be a plain folder name/);
  }
  const [sweepName] = await issuesOf(base, ['+sweep.name=../up']);
  assert.is(sweepName.path, 'sweep.name');
});

test('infinite and NaN numbers are refused (lr: .inf passes a > 0 bound)', async () => {
  const file = write('inf.yaml', 'extends: base.yaml\noptimizer: { lr: .inf }\ndataset: { batch_size: .nan }\n');
  const issues = await issuesOf(file);
  const lr = issues.find((i) => i.path === 'optimizer.lr')!;
  assert.equal([lr.pos?.line, lr.message], [2, 'must be a finite number, got Infinity']);
  assert.ok(issues.some((i) => i.path === 'dataset.batch_size'), 'NaN too');
});

test('extends and imports stay inside the project unless allowed', async () => {
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-config-outside-'));
  try {
    fs.copyFileSync(base, path.join(outside, 'parent.yaml'));
    fs.writeFileSync(path.join(outside, 'module.ts'), 'export {};\n');
    const relative = path.relative(dir, outside);
    const file = write('escape.yaml', `extends: ${relative}/parent.yaml\nimports: [${path.join(outside, 'module.ts')}]\n`);
    const issues = (await issuesOf(file)).sort((a, b) => a.path.localeCompare(b.path));
    assert.equal(issues.map((i) => [i.path, i.pos?.line]), [['extends', 1], ['imports.0', 2]]);
    assert.match(issues[0].message, `cannot extend '${relative}/parent.yaml': it is outside the experiment's project (${fs.realpathSync(dir)}); pass --allow-outside-project`);
    assert.match(issues[1].message, 'cannot import');
    process.env.XP_ALLOW_OUTSIDE_PROJECT = '1';
    const { value } = await resolveExperiment(file, { registry: registerBuiltins() });
    assert.is(value.seed, 3, 'allowed: the parent is read');
  } finally {
    delete process.env.XP_ALLOW_OUTSIDE_PROJECT;
    fs.rmSync(outside, { recursive: true, force: true });
  }
});

test('duplicate keys, alias bombs and folders are issues with a position, not exceptions', async () => {
  const [duplicate] = await issuesOf(write('dup.yaml', 'seed: 1\nseed: 2\n'));
  assert.equal([duplicate.pos?.line, duplicate.path], [2, 'seed']);
  assert.match(duplicate.message, "the key 'seed' appears twice");
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  const [bomb] = await issuesOf(write('bomb.yaml', `${levels.join('\n')}\n`));
  assert.match(bomb.message, /^malformed YAML: .*alias/i);
  const [folder] = await issuesOf(dir);
  assert.equal([folder.pos?.file, folder.message], [path.resolve(dir), 'is a folder, not an experiment file']);
});

test('YAML the reader refuses, each at its position: a second document, a list as a key, a bad --set value', async () => {
  const [twoDocs] = await issuesOf(write('two-docs.yaml', 'extends: base.yaml\n---\nseed: 2\n'));
  assert.equal([twoDocs.pos?.line, twoDocs.path], [3, '']);
  assert.match(twoDocs.message, 'holds one document');
  const [complexKey] = await issuesOf(write('complex-key.yaml', 'extends: base.yaml\noptimizer:\n  ? [lr, beta]\n  : 1\n'));
  assert.equal([complexKey.pos?.line, complexKey.pos?.col, complexKey.path], [3, 5, 'optimizer']);
  assert.match(complexKey.message, 'a key must be a plain value');
  const [badValue] = await issuesOf(base, ['optimizer.lr=[1, 2']);
  assert.match(badValue.message, 'the value is not valid YAML');
});

test('aliases repeat a value; typed values read alike from a file and from --set', async () => {
  const file = write('aliases.yaml', 'extends: base.yaml\nsampler: &s { type: ddim, steps: 5 }\ncallbacks:\n  samples: { type: sample-images, sampler: *s, n: 4 }\n');
  const resolved = await resolveExperiment(file, { registry: registerBuiltins(), overrides: ['optimizer.lr=1e-3', 'seed=0x10'] });
  const callbacks = resolved.value.callbacks as Record<string, { sampler: unknown }>;
  assert.equal(callbacks.samples.sampler, resolved.value.sampler);
  assert.equal((resolved.value.sampler as { steps: number }).steps, 5);
  assert.equal([(resolved.value.optimizer as { lr: number }).lr, resolved.value.seed], [0.001, 16]);
});

test('a 2 MB file is read whole: every one of its 40,000 callbacks resolves, and a problem on its last line is reported there', async () => {
  const lines = ['extends: base.yaml', 'callbacks:'];
  while (lines.length < 40_002) lines.push(`  ema_${lines.length}: { type: ema, beta: 0.99, warmup_steps: ${lines.length} }`);
  const text = `${lines.join('\n')}\n`;
  assert.ok(text.length > 2_000_000, `${text.length} bytes`);
  const resolved = await resolveExperiment(write('big.yaml', text), { registry: registerBuiltins() });
  const names = Object.keys(resolved.value.callbacks as object).filter((name) => name.startsWith('ema_'));
  assert.equal([names.length, names[0], names.at(-1)], [40_000, 'ema_2', 'ema_40001']);
  const [issue] = await issuesOf(write('big-bad.yaml', `${text}  last: { type: ema, beta: 2 }\n`));
  assert.equal([issue.pos?.line, issue.path], [40_003, 'callbacks.last.beta']);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
test.run();
