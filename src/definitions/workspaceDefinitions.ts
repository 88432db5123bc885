// The workspace's procscope.processes, per workspace folder, kept current: a DefinitionRunner fed from the settings,
// autostart when a folder opens (trusted only), and what the API lists and starts.
import * as vscode from 'vscode';
import type { DefinitionInfo, DefinitionsApi } from '../api';
import { DefinitionRunner, type FolderValue } from '../core/definitions/runner';
import type { ProcessService } from '../core/host/processService';
import type { Logger } from '../core/logger';
import type { ProcessSnapshot } from '../core/types';

/** Each workspace folder on disk and its procscope.processes value (the folder's own, over the workspace's). */
export function folderValues(): FolderValue[] {
  return (vscode.workspace.workspaceFolders ?? [])
    .filter((folder) => folder.uri.scheme === 'file')
    .map((folder) => ({ folder: folder.uri.fsPath, value: vscode.workspace.getConfiguration('procscope', folder.uri).get<unknown>('processes') }));
}

export class WorkspaceDefinitions implements DefinitionsApi, vscode.Disposable {
  readonly runner: DefinitionRunner;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(service: ProcessService, logger: Logger) {
    this.runner = new DefinitionRunner(service, logger, folderValues, () => vscode.workspace.isTrusted);
    const refreshAndStart = () => {
      this.runner.refresh();
      void this.autostart();
    };
    this.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('procscope.processes')) this.runner.refresh();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(refreshAndStart),
      vscode.workspace.onDidGrantWorkspaceTrust(refreshAndStart),
    );
  }

  /** Starts the autostart definitions of every folder (nothing in Restricted Mode); failures are in the log. */
  async autostart(): Promise<void> {
    await this.runner.autostart().catch(() => undefined);
  }

  list(): DefinitionInfo[] {
    return this.runner.list();
  }

  start(name: unknown, folder?: unknown): Promise<ProcessSnapshot> {
    return this.runner.start(this.runner.find(name, folder));
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.runner.dispose();
  }
}
