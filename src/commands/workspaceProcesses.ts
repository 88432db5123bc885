// Where the workspace's procscope.processes live: a context key for the view's welcome text, and the command that
// opens (or starts) the folder's .vscode/settings.json at them. An empty state is explained in the view, never a popup.
import * as vscode from 'vscode';
import type { DefinitionRunner } from '../core/definitions/runner';
import type { ProcessSpec } from '../core/types';

/** Context key: true when the workspace defines processes (the view's welcome text follows it). */
const HAS_DEFINITIONS = 'procscope.hasWorkspaceProcesses';

/** What a first definition looks like (a readiness probe, a restart policy); valid per the schema in package.json. */
export const EXAMPLE_DEFINITION: ProcessSpec & { ready: { http: string }; restart: string } = {
  name: 'web', command: 'python3', args: ['-m', 'http.server', '8000'], ready: { http: 'http://localhost:8000/' }, restart: 'on-failure',
};

const STATUS_MESSAGE_MS = 8000;

/** Keeps the context key in step with the definitions (good or bad: either is something the workspace defines). */
export function trackDefinitions(runner: DefinitionRunner): vscode.Disposable {
  const update = () => void vscode.commands.executeCommand('setContext', HAS_DEFINITIONS, runner.definitions().length + runner.problems().length > 0);
  update();
  return runner.onDidChange(update);
}

/** Start All or Start Workspace Process… with nothing defined: show the view, whose welcome text explains it. */
export function explainNoDefinitions(command: string): void {
  void vscode.commands.executeCommand('procscope.processes.focus');
  vscode.window.setStatusBarMessage(
    `$(info) ProcScope: ${command}: this workspace defines no processes; Edit Workspace Processes adds one to .vscode/settings.json`,
    STATUS_MESSAGE_MS,
  );
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** The folder whose settings to edit: the only one, or the one picked (undefined: cancelled). */
async function targetFolder(arg: unknown): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (arg instanceof vscode.Uri) {
    const folder = vscode.workspace.getWorkspaceFolder(arg);
    if (folder) return folder;
  }
  if (folders.length === 0) throw new Error('Open a folder first: workspace processes are kept in its .vscode/settings.json');
  if (folders.length === 1) return folders[0];
  return vscode.window.showWorkspaceFolderPick({ placeHolder: 'Folder whose processes to edit' });
}

/**
 * Opens the folder's .vscode/settings.json at procscope.processes. When the folder defines none, an example entry is
 * written first (VS Code's own settings editing creates the file and keeps its comments); definitions already there
 * are left as they are. Returns the file's Uri.
 */
export async function editWorkspaceProcesses(arg?: unknown): Promise<vscode.Uri | undefined> {
  const folder = await targetFolder(arg);
  if (!folder) return undefined;
  if (folder.uri.scheme !== 'file') throw new Error(`Workspace processes need a folder on disk, not ${folder.uri.toString()}`);
  const file = vscode.Uri.joinPath(folder.uri, '.vscode', 'settings.json');
  const config = vscode.workspace.getConfiguration('procscope', folder.uri);
  const inspected = config.inspect<unknown>('processes');
  const multiRoot = vscode.workspace.workspaceFile !== undefined;
  const defined = multiRoot ? inspected?.workspaceFolderValue : inspected?.workspaceValue;
  // In Restricted Mode VS Code hides the workspace's value of this restricted setting: never write over a file then.
  const unknown = !vscode.workspace.isTrusted && (await exists(file));
  if (!unknown && (defined === undefined || (Array.isArray(defined) && defined.length === 0))) {
    await config.update('processes', [EXAMPLE_DEFINITION], multiRoot ? vscode.ConfigurationTarget.WorkspaceFolder : vscode.ConfigurationTarget.Workspace);
    vscode.window.setStatusBarMessage(`$(info) ProcScope: added an example process "${EXAMPLE_DEFINITION.name}" to ${vscode.workspace.asRelativePath(file)}`, STATUS_MESSAGE_MS);
  }
  const document = await vscode.workspace.openTextDocument(file);
  const offset = document.getText().indexOf('"procscope.processes"');
  const at = offset < 0 ? new vscode.Range(0, 0, 0, 0) : new vscode.Range(document.positionAt(offset + 1), document.positionAt(offset + '"procscope.processes'.length));
  await vscode.window.showTextDocument(document, { selection: at });
  return file;
}
