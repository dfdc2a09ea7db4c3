/**
 * The floor plan: app -> components -> framework, no import circles, components through the
 * engine's public face (index.ts). dependency-cruiser checks the rules of
 * .dependency-cruiser.cjs on the import graph of the source tree, type-only imports included.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './support/cli.js';

interface Cruise {
  modules: { source: string; dependencies: { resolved: string }[] }[];
  summary: { violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[] };
}

function cruise(): Cruise {
  const bin = path.join(repoRoot, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
  const args = [bin, 'framework', 'components', 'app', 'index.ts', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'];
  const result = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(result.stdout, result.stderr);
  return JSON.parse(result.stdout) as Cruise;
}

const graph = cruise();

test('the import graph has no circles and follows app -> components -> framework through the public face', () => {
  const violations = graph.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
  assert.equal(violations, []);
});

test('the check sees the real graph: the run loop, the catalogue, and components importing index.ts', () => {
  const edges = new Set(graph.modules.flatMap((m) => m.dependencies.map((d) => `${m.source} -> ${d.resolved}`)));
  assert.ok(graph.modules.length > 100, `${graph.modules.length} modules`);
  for (const edge of [
    'framework/container/assembly.ts -> framework/training/runner.ts',
    'components/callbacks/ema.ts -> index.ts',
    'app/experiment.ts -> components/index.ts',
  ]) {
    assert.ok(edges.has(edge), `missing edge ${edge}`);
  }
});

test.run();
