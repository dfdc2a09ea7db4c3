/**
 * SIGINT/SIGTERM ask a run to stop after its current step (it then checkpoints and flushes);
 * a second SIGINT stops at once. The process then exits with the shell's status for the
 * signal (130, 143), so scripts and schedulers see an interrupted run as one.
 */
const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export class StopSignal {
  requested = false;
  /** The first signal received. */
  signal?: NodeJS.Signals;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.requested && signal === 'SIGINT') process.exit(EXIT_CODES.SIGINT);
    this.requested = true;
    this.signal ??= signal;
    console.error(`\n${signal}: finishing the current step, then stopping (Ctrl-C again to stop now)`);
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** The exit status for the signal that stopped the run. */
  get exitCode(): number {
    return EXIT_CODES[this.signal ?? 'SIGINT'] ?? 130;
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
