/**
 * The `xp` command line. Each command lives in commands/<name>.ts and is loaded only
 * when it runs, so `xp --help` stays fast.
 */
import { Command, Option } from 'commander';
import { XpError } from '../errors.js';

function backendOption(): Option {
  return new Option('--backend <name>', 'compute backend: auto, tensorflow-gpu, tensorflow, wasm, cpu (or XP_BACKEND)');
}

export function buildProgram(): Command {
  const program = new Command('xp')
    .description('Declarative, config-driven diffusion experiments')
    .showHelpAfterError();

  program
    .command('doctor')
    .description('show the compute backend xp would use and why better ones were skipped')
    .addOption(backendOption())
    .action(async (opts) => (await import('./commands/doctor.js')).doctor(opts));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof XpError) {
      console.error(`xp: ${err.message}`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}
