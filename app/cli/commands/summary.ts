/** `xp summary FILE`: the model's table — stage, block, output shape, parameters, forward FLOPs. */
import { resolveExperiment, type ResolveOptions } from '../../../framework/config/resolve.js';
import { requestedBackend, selectBackend } from '../../../framework/backend.js';
import { assemble } from '../../../framework/container/assembly.js';
import { TOKENS } from '../../../framework/container/tokens.js';
import type { Denoiser, SummaryRow } from '../../../framework/interfaces.js';

export async function summary(file: string, opts: { set?: string[]; import?: string[] }): Promise<void> {
  const options: ResolveOptions = { overrides: opts.set, imports: opts.import };
  const config = await resolveExperiment(file, options);
  await selectBackend(requestedBackend(undefined, config.value.backend as string | undefined));
  const model = assemble(config.value).get(TOKENS.Model) as Denoiser;
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
