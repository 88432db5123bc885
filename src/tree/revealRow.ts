// Shows a row in the Processes view, from wherever a process is named (a timeline bar, a link in an output), or says why not.
import * as vscode from 'vscode';
import type { ProcessService } from '../core/host/processService';

export async function revealRow(service: ProcessService, treeView: vscode.TreeView<string>, id: string): Promise<void> {
  const row = service.row(id);
  if (row) {
    try {
      await treeView.reveal(id, { select: true, focus: true, expand: false });
      return;
    } catch {
      // not shown in the tree (yet): say so below
    }
  }
  const past = service.state.history().find((p) => p.id === id);
  const name = row?.name ?? past?.name ?? id;
  void vscode.window.showInformationMessage(
    row ? `${name} is not shown in the Processes view right now.`
      : `${name} has no row in the Processes view any more; the timeline keeps its history.`,
  );
}

/** `procscope.revealRow` (hidden from the palette): what links to a row run, given the row's id. */
export function registerRevealRow(service: ProcessService, treeView: vscode.TreeView<string>): vscode.Disposable {
  return vscode.commands.registerCommand('procscope.revealRow', (id: unknown) => {
    if (typeof id === 'string') return revealRow(service, treeView, id);
  });
}

/** A `command:` link that reveals row `id`. */
export function revealRowUri(id: string): vscode.Uri {
  return vscode.Uri.parse(`command:procscope.revealRow?${encodeURIComponent(JSON.stringify([id]))}`);
}
