/**
 * The README's "Add a block" section, done exactly as written: its files are taken from the
 * README itself, written into a temporary folder, and its commands run there.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, xp } from './support/cli.js';

/** The fenced block after `<!-- add-a-block:NAME -->` in README.md. */
function readmeBlock(name: string): string {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- add-a-block:${name.replace('.', '\\.')} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!match) throw new Error(`README.md has no add-a-block:${name} block`);
  return match[1];
}

test('the README example block works verbatim from a temporary folder', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xp-readme-'));
  try {
    fs.writeFileSync(path.join(dir, 'ResidualConv.ts'), readmeBlock('ResidualConv.ts'));
    fs.writeFileSync(path.join(dir, 'residual.yaml'), readmeBlock('residual.yaml'));
    const commands = readmeBlock('commands').trim().split('\n');
    assert.is(commands.length, 3);
    const outputs = commands.map((line) => {
      const [npx, bin, ...args] = line.split(/\s+/);
      assert.equal([npx, bin], ['npx', 'xp']);
      const result = xp(args, dir);
      assert.is(result.code, 0, `${line}\n${result.stderr}`);
      return result;
    });
    assert.match(outputs[0].stdout, 'residual.yaml: valid');
    assert.match(outputs[1].stdout, /bottom\s+ResidualConv\s+14x14x32\s+9,280/);
    const [stamp] = fs.readdirSync(path.join(dir, 'runs', 'residual'));
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'residual', stamp, 'run.json'), 'utf8'));
    assert.equal([info.status, info.steps], ['completed', 2]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
