// The status-bar count of live processes, as many as the Processes view shows alive; a click reveals the view.
import * as vscode from 'vscode';
import type { ProcessService } from './core/host/processService';
import { liveRowCount } from './core/status';

export class ProcessStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('procscope.status', vscode.StatusBarAlignment.Left, 10);
  private readonly subscription: { dispose(): void };

  constructor(private readonly table: ProcessService) {
    this.item.name = 'ProcScope';
    this.item.command = 'procscope.processes.focus';
    this.subscription = table.onDidChange(() => this.update());
    this.update();
  }

  private update(): void {
    const launched = this.table.children(undefined);
    const running = launched.filter((e) => e.alive).length;
    const live = liveRowCount(this.table);
    this.item.text = `$(server-process) ${live}`;
    this.item.tooltip = launched.length === 0
      ? 'ProcScope: no processes yet. Click to open the Processes view.'
      : `ProcScope: ${live} live process${live === 1 ? '' : 'es'} (${running} started from ProcScope). Click to show them.`;
    this.item.show();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
