/**
 * Training progress: a live bar (loss, images/s, ETA) on a terminal; elsewhere (CI, Slurm
 * logs) a plain line every `intervalSeconds`, so logs stay readable.
 */
import cliProgress from 'cli-progress';

export interface ProgressInfo {
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
  loss: number;
  imagesPerSecond: number;
}

export class Progress {
  private readonly bar?: cliProgress.SingleBar;
  private lastLine = 0;

  constructor(
    totalSteps: number,
    startStep: number,
    private readonly intervalSeconds = 30,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    if (!out.isTTY) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: 'epoch {epochLabel} |{bar}| {value}/{total} steps | loss {loss} | {ips} img/s | ETA {eta_formatted}',
        stream: out,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(totalSteps, startStep, { epochLabel: '-', loss: '-', ips: '-' });
  }

  update(info: ProgressInfo): void {
    const payload = {
      epochLabel: `${info.epoch + 1}/${info.epochs}`,
      loss: info.loss.toFixed(4),
      ips: info.imagesPerSecond.toFixed(1),
    };
    if (this.bar) {
      this.bar.update(info.step, payload);
      return;
    }
    const now = Date.now();
    if (now - this.lastLine < this.intervalSeconds * 1000) return;
    this.lastLine = now;
    this.out.write(`step ${info.step}/${info.totalSteps}  epoch ${payload.epochLabel}  loss ${payload.loss}  ${payload.ips} img/s\n`);
  }

  /** A line that must not be torn by the bar (epoch summaries). */
  log(line: string): void {
    if (this.bar) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
  }

  stop(): void {
    this.bar?.stop();
  }
}
