// Echoes process output into the log, prefixed by the process name, when procscope.echoOutput is on; floods are summarised.
import type { Logger } from '../core/logger';
import { STDERR } from '../core/output/outputStore';
import type { ProcessService } from '../core/host/processService';

const MAX_LINES_PER_SECOND = 2000;

export class OutputEcho {
  private windowStart = 0;
  private linesInWindow = 0;
  private readonly skipped = new Map<string, number>();
  private readonly subscription: { dispose(): void };

  constructor(
    private readonly table: ProcessService,
    private readonly logger: Logger,
    private readonly enabled: () => boolean,
  ) {
    this.subscription = table.onOutput(({ id, stream, text, skipped }) => {
      if (!this.enabled()) return;
      this.echo(id, stream === STDERR ? '!' : '|', text);
      if (skipped > 0) this.logger.write(`${this.table.row(id)?.name ?? id} | … ${skipped} more bytes not echoed (Show Output has them)`);
    });
  }

  private echo(id: string, mark: string, lines: string): void {
    const name = this.table.row(id)?.name ?? id;
    const now = Date.now();
    if (now - this.windowStart >= 1000) this.reportSkipped(now);
    const text = lines.split('\n');
    text.pop(); // lines end with a newline
    for (const line of text) {
      if (this.linesInWindow >= MAX_LINES_PER_SECOND) {
        this.skipped.set(name, (this.skipped.get(name) ?? 0) + 1);
        continue;
      }
      this.linesInWindow++;
      this.logger.write(`${name} ${mark} ${line}`);
    }
  }

  private reportSkipped(now: number): void {
    for (const [name, count] of this.skipped) this.logger.write(`${name} | … ${count} more lines not echoed (Show Output has them)`);
    this.skipped.clear();
    this.windowStart = now;
    this.linesInWindow = 0;
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
