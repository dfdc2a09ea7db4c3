/** `xp summary FILE`: the model's table — stage, block, output shape, parameters, forward FLOPs. */
import { requestedBackend, selectBackend } from '../../../framework/backend.js';
import { TOKENS } from '../../../framework/container/tokens.js';
import type { SummaryRow, Trainable } from '../../../framework/interfaces.js';
import { assembleApp, resolveApp, type ExperimentOptions } from '../../experiment.js';

export async function summary(file: string, opts: ExperimentOptions): Promise<void> {
  const config = await resolveApp(file, opts);
  await selectBackend(requestedBackend(undefined, config.value.backend as string | undefined));
  const model = assembleApp(config).get<Trainable>(TOKENS.Model);
  console.log(formatSummary(model.summary()));
  model.dispose();
}

export function formatSummary(rows: SummaryRow[]): string {
  const table = [
    ['stage', 'block', 'output', 'params', 'GFLOPs'],
    ...rows.map((r) => [r.stage, r.block, r.outShape.join('x'), r.params.toLocaleString('en-US'), (r.flops / 1e9).toFixed(3)]),
  ];
  const params = rows.reduce((sum, r) => sum + r.params, 0);
  const flops = rows.reduce((sum, r) => sum + r.flops, 0);
  table.push(['total', '', '', params.toLocaleString('en-US'), (flops / 1e9).toFixed(3)]);
  const widths = table[0].map((_, col) => Math.max(...table.map((row) => row[col].length)));
  const numeric = new Set([3, 4]);
  return table
    .map((row) => row.map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col]) : cell.padEnd(widths[col]))).join('  '))
    .join('\n');
}
