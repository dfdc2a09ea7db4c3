/**
 * The `xp` command line. Each command lives in commands/<name>.ts and is loaded only
 * when it runs, so `xp --help` stays fast.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { XpError } from '../../framework/errors.js';
import { ALLOW_OUTSIDE_PROJECT } from '../../framework/config/load.js';

/** Exit status of an error xp did not expect (sysexits' EX_SOFTWARE); user errors exit 1 or 2. */
export const INTERNAL_ERROR_EXIT = 70;

/** System error codes that describe the machine, each message naming the operation and file. */
const ENVIRONMENT_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE', 'EIO']);

function backendOption(): Option {
  return new Option('--backend <name>', 'compute backend: auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu (or XP_BACKEND)');
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

  const collect = (value: string, previous: string[] = []) => [...previous, value];
  const batchSetting = (value: string): number | 'auto' => (value === 'auto' ? 'auto' : Number(value));
  const configOptions = (command: Command) =>
    command
      .option('--set <path=value>', 'override a value after extends (repeatable; +path=value adds, ~path deletes)', collect)
      .option('--import <module>', 'load a module of user components (.ts or .js; repeatable)', collect)
      .option('--allow-outside-project', `let extends: and imports: name files outside the experiment's project (or ${ALLOW_OUTSIDE_PROJECT}=1)`);
  // The experiment loader reads the permission from the environment, which trial processes inherit.
  program.hook('preAction', (_program, action) => {
    if (action.opts().allowOutsideProject) process.env[ALLOW_OUTSIDE_PROJECT] = '1';
  });

  configOptions(program.command('validate <file>').description('check an experiment file; report every problem'))
    .action(async (file, opts) => (await import('./commands/config.js')).validate(file, opts));

  configOptions(program.command('config <file>').description('print the resolved experiment (extends, overrides, defaults)'))
    .action(async (file, opts) => (await import('./commands/config.js')).printConfig(file, opts));

  configOptions(program.command('run [file]').description('train an experiment; records go to runs/<experiment>/<timestamp>/'))
    .option('--resume <run-dir>', 'continue a stopped run from its last checkpoint')
    .addOption(backendOption())
    .option('--name <name>', 'suffix of the run folder name')
    .option('--runs-dir <dir>', 'root of run folders (default: ./runs, or XP_RUNS_DIR)')
    .option('--run-dir <dir>', 'write the run to exactly this folder (used by sweeps)')
    .option('--lease-seconds <s>', 'seconds the run folder stays locked once this process stops renewing its lock', positiveNumber('--lease-seconds'), 30)
    .action(async (file, opts) => (await import('./commands/run.js')).run(file, opts));

  configOptions(program.command('summary <file>').description("print the model's stages: output shapes, parameters, FLOPs"))
    .action(async (file, opts) => (await import('./commands/summary.js')).summary(file, opts));

  configOptions(program.command('sweep [file]').description("run a sweep's trials (the file's sweep: section and/or --grid)"))
    .option('--grid <path=a,b,c>', 'a grid axis (repeatable; adds to the sweep: section)', collect)
    .option('--parallel <n>', 'trials at once (default: one per core; one on a GPU)', (v) => Number(v))
    .option('--dry-run', 'list the trials and stop')
    .option('--resume', 'continue the newest sweep of this name: skip completed trials, resume the rest')
    .option('--runs-dir <dir>', 'root of run folders (default: ./runs, or XP_RUNS_DIR)')
    .addOption(new Option('--launcher <name>', 'where trials run').choices(['local', 'redis']).default('local'))
    .option('--redis <url>', 'Redis for --launcher redis: redis://[:PASSWORD@]HOST:PORT or rediss:// (TLS)')
    .option('--detach', 'with --launcher redis: queue the trials and return')
    .option('--status <sweep-dir>', "print a sweep's trial states and stop")
    .action(async (file, opts) => {
      const commands = await import('./commands/sweep.js');
      if (opts.status) return commands.sweepStatus(opts.status);
      if (!file) throw new XpError('xp sweep needs an experiment FILE (or --status SWEEP_DIR)');
      return commands.sweep(file, opts);
    });

  program
    .command('worker')
    .description('run sweep trials queued on Redis (a runs folder shared with the sweep command)')
    .requiredOption('--redis <url>', 'redis://[:PASSWORD@]HOST:PORT or rediss:// (TLS)')
    .option('--runs-dir <dir>', 'the shared runs folder; trials of sweeps elsewhere are refused (default: ./runs, or XP_RUNS_DIR)')
    .option('--concurrency <n>', 'trials at once', positiveNumber('--concurrency'), 1)
    .option('--lock-seconds <s>', "seconds after which a dead worker's trial goes to another worker", positiveNumber('--lock-seconds'), 30)
    .option('--allow-imports', "run trials whose experiment imports modules outside the sweep's folder")
    .action(async (opts) => (await import('./commands/sweep.js')).worker(opts));

  program
    .command('runs [dir]')
    .description('list run folders (default ./runs) with status, steps and last loss')
    .action(async (dir) => (await import('./commands/runs.js')).runs(dir));

  program
    .command('board [dir]')
    .description('serve a page showing the runs and sweeps under dir (default ./runs): status, scalars, images, configs, sweep tables, live')
    .option('--port <n>', 'port to listen on (0 takes a free one)', (v) => Number(v), 6060)
    .option('--host <host>', 'address to listen on; another than 127.0.0.1 lets other machines read the runs', '127.0.0.1')
    .option('--open', 'open the page in the desktop browser')
    .action(async (dir, opts) => (await import('./commands/board.js')).board(dir, opts));

  program
    .command('plot <dirs...>')
    .description('draw scalar curves of runs (a run folder, or any folder above run folders, such as a sweep\'s) as a PNG or SVG line chart')
    .requiredOption('--tag <tag>', 'scalar tag to draw, such as Training/MSE (repeatable)', collect)
    .requiredOption('--out <file>', 'the chart (.png or .svg)')
    .option('--csv <file>', 'also write the points as a table: run, tag, step, value')
    .option('--title <text>', 'title above the chart')
    .option('--log-y', 'log scale for the values')
    .action(async (dirs, opts) => (await import('./commands/plot.js')).plot(dirs, opts));

  program
    .command('sample <run-or-checkpoint>')
    .description('sample images from a run (its newest checkpoint) or a checkpoint folder')
    .requiredOption('--out <file>', 'output: .png (a grid), .idx (MNIST idx3-ubyte) or .npy (uint8, N x H x W)')
    .option('--force', 'overwrite --out if it exists')
    .option('--n <count>', 'number of images', (v) => Number(v), 64)
    .option('--ema', "use the EMA weights (the run's ema callback)")
    .option('--sampler <name>', "a registered sampler to use instead of the experiment's (`xp list sampler` names them)")
    .option('--steps <count>', 'sampling steps (the samplers that take a step count: ddim, dpm-solver++)', (v) => Number(v))
    .option('--sampler-set <key=value>', 'set a parameter of the sampler, e.g. eta=1 (repeatable)', collect)
    .option('--seed <seed>', 'seed of the starting noise', (v) => Number(v), 0)
    .option('--batch <count>', "images per model call; 'auto': as many as fit (the quick start's model: 500, the paper's: 16)", batchSetting, 'auto')
    .addOption(backendOption())
    .action(async (target, opts) => (await import('./commands/sample.js')).sample(target, opts));

  program
    .command('eval <samples-or-run>')
    .description(
      'FID (on an MNIST classifier\'s features), classifier confidence and class entropy of samples (.png grid, .idx, .npy) ' +
        'or of a run\'s newest checkpoint, next to real digits (floor) and noise (ceiling) at the same n',
    )
    .option('--n <count>', 'images to evaluate (default: all of a file\'s; 1000 from a run; at most 5000)', (v) => Number(v))
    .option('--ema', "a run: sample with the EMA weights (the run's ema callback)")
    .option('--json', 'print one JSON object')
    .option('--sampler <name>', "a run: a registered sampler to use instead of the experiment's (`xp list sampler` names them)")
    .option('--steps <count>', 'a run: sampling steps (ddim, dpm-solver++)', (v) => Number(v))
    .option('--sampler-set <key=value>', 'a run: set a parameter of the sampler, e.g. eta=1 (repeatable)', collect)
    .option('--seed <seed>', 'a run: seed of the starting noise', (v) => Number(v), 0)
    .option('--batch <count>', "a run: images per model call; 'auto': as many as fit (the quick start's model: 500, the paper's: 16)", batchSetting, 'auto')
    .option('--classifier-set <path=value>', 'override the classifier experiment (its own cache entry; repeatable)', collect)
    .addOption(backendOption())
    .action(async (target, opts) => (await import('./commands/eval.js')).evaluate(target, opts));

  program
    .command('list [kind]')
    .description('list registered components with their parameters, defaults and descriptions')
    .option('--import <module>', 'also list the components of this module (repeatable)', collect)
    .action(async (kind, opts) => (await import('./commands/list.js')).list(kind, opts));

  program
    .command('schema')
    .description('print schema.json generated from the registry')
    .option('--write', 'write schema.json at the package root')
    .option('--check', 'fail when schema.json is stale')
    .action(async (opts) => (await import('./commands/schema.js')).schema(opts));

  return program;
}

function positiveNumber(option: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n)) throw new XpError(`${option} ${value}: expected a positive number`);
    return n;
  };
}

export async function main(argv: string[]): Promise<void> {
  // An error thrown outside the command's own promise (a timer, a stream) is reported the same way.
  process.on('uncaughtException', (err) => {
    process.exitCode = reportError(err);
    process.exit();
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

/**
 * One line for an error the user can act on (exit 1, or 2 for a config), naming the file and
 * field; for anything else a short message and the file holding the full trace. Returns the
 * exit status.
 */
export function reportError(err: unknown): number {
  if (err instanceof XpError) {
    console.error(`xp: ${err.message}`);
    return err.exitCode;
  }
  // What the machine refused (a full disk, a read-only folder) is for the user to fix, not a bug.
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code && ENVIRONMENT_ERRORS.has(code)) {
    console.error(`xp: ${(err as Error).message}`);
    return 1;
  }
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  const trace = writeTrace(err);
  console.error(`xp: internal error: ${message}`);
  console.error(trace ? `    the full trace is in ${trace}; please include it in a bug report` : `    ${(err as Error)?.stack ?? ''}`);
  return INTERNAL_ERROR_EXIT;
}

/** The error's stack and the command line, in a file of its own; undefined where none can be written. */
function writeTrace(err: unknown): string | undefined {
  const file = path.join(os.tmpdir(), `xp-error-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.txt`);
  try {
    fs.writeFileSync(file, `${process.argv.join(' ')}\n\n${(err as Error)?.stack ?? String(err)}\n`);
    return file;
  } catch {
    return undefined;
  }
}
