/**
 * SIGINT/SIGTERM ask a run to stop after its current step (it then checkpoints and flushes);
 * a second SIGINT stops at once.
 */
export class StopSignal {
  requested = false;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.requested && signal === 'SIGINT') process.exit(130);
    this.requested = true;
    console.error(`\n${signal}: finishing the current step, then stopping (Ctrl-C again to stop now)`);
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
