// The ProcScope output channel: log lines batched into few appends, so a burst costs one message to the window.
import * as vscode from 'vscode';
import type { Logger } from '../core/logger';

const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

export class LogChannel implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('ProcScope', 'procscope-log');
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscription: { dispose(): void };

  constructor(logger: Logger) {
    this.subscription = logger.onLine((line) => this.append(line));
  }

  private append(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length + 1;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    this.channel.append(`${this.pending.join('\n')}\n`);
    this.pending = [];
    this.pendingBytes = 0;
  }

  show(): void {
    this.flush();
    this.channel.show(true);
  }

  dispose(): void {
    this.flush();
    this.subscription.dispose();
    this.channel.dispose();
  }
}
