// The workspace's procscope.processes definitions, as the API lists and starts them (one instance each).
import * as vscode from 'vscode';
import type { DefinitionInfo, DefinitionsApi } from '../api';
import type { SettingsWatcher } from '../config';
import type { ProcessService } from '../core/host/processService';
import type { ProcessSnapshot, ProcessSpec } from '../core/types';
import { describeValue } from '../core/validate';

function folderPath(): string {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
}

export class WorkspaceDefinitions implements DefinitionsApi, vscode.Disposable {
  constructor(
    private readonly service: ProcessService,
    private readonly settings: SettingsWatcher,
  ) {}

  private entries(): ProcessSpec[] {
    return this.settings.value.processes.filter((d): d is ProcessSpec => typeof d === 'object' && d !== null && typeof (d as ProcessSpec).name === 'string');
  }

  private runOf(name: string) {
    const rows = this.service.state.roots().filter((row) => row.definition === name);
    return rows.find((row) => row.alive) ?? rows[rows.length - 1];
  }

  list(): DefinitionInfo[] {
    return this.entries().map((d) => {
      const row = this.runOf(d.name as string);
      const state = !row ? 'not started' : row.alive ? (row.ready ? 'ready' : 'running') : 'exited';
      return { name: d.name as string, folder: folderPath(), state, id: row?.id ?? null };
    });
  }

  async start(name: unknown, _folder?: unknown): Promise<ProcessSnapshot> {
    const definition = this.entries().find((d) => d.name === name);
    if (!definition) throw new Error(`No procscope.processes definition named ${describeValue(name)}`);
    const running = this.runOf(definition.name as string);
    if (running?.alive) return this.service.get(running.id) as ProcessSnapshot;
    return this.service.start({ cwd: folderPath() || undefined, ...definition }, { definition: definition.name, folder: folderPath() });
  }

  dispose(): void {
    // nothing held yet
  }
}
