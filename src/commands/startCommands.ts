// Commands that start processes: a typed command line, the active file, the workspace's configured processes.
import * as vscode from 'vscode';
import { splitCommandLine } from '../core/commandLine';
import type { ProcessService } from '../core/host/processService';
import type { Definition } from '../core/definitions/definitions';
import type { ProcessSnapshot } from '../core/types';
import { describeValue } from '../core/validate';
import { pythonPathFor } from '../config';
import type { WorkspaceDefinitions } from '../definitions/workspaceDefinitions';
import { definitionOf, isDefinitionElement } from '../tree/elements';
import type { ProcessOutputDocuments } from '../output/processOutputDocuments';
import { pickRunnableFile } from '../run/pickFile';
import { specForFile } from '../run/fileCommand';
import { pythonInterpreter } from '../run/interpreter';
import { runCommand } from './pickProcess';
import { isViewArgument, viewElements, type IsRow } from './viewArguments';
import { editWorkspaceProcesses, explainNoDefinitions, trackDefinitions } from './workspaceProcesses';

function workspaceCwd(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.scheme === 'file' ? vscode.workspace.workspaceFolders[0].uri.fsPath : undefined;
}

function commandLineError(value: string): string | undefined {
  if (value.trim() === '') return 'Type a command line, e.g. python3 worker.py';
  try {
    splitCommandLine(value);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Asks for trust before running workspace code; true when the workspace is trusted already. */
function ensureTrusted(what: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window
    .showWarningMessage(`ProcScope runs ${what} only in a trusted workspace. This workspace is in Restricted Mode.`, 'Manage Workspace Trust')
    .then((choice) => choice && vscode.commands.executeCommand('workbench.trust.manage'));
  return false;
}

export function registerStartCommands(table: ProcessService, definitions: WorkspaceDefinitions, outputs: ProcessOutputDocuments): vscode.Disposable[] {
  const isRow: IsRow = viewElements((id) => table.row(id) !== undefined);

  // Its argument is a ProcessSpec (anything else is rejected, naming it); from the view's title bar VS Code hands it
  // the selected row instead, and then it asks, as from the palette.
  const start = (arg?: unknown) => {
    const interactive = isViewArgument(isRow, arg);
    return runCommand(interactive, async () => {
      if (!interactive) return table.start(arg);
      const line = await vscode.window.showInputBox({
        title: 'ProcScope: Start Process',
        prompt: 'Command line to run (split like a shell would, but run without one)',
        placeHolder: 'e.g. python3 -m http.server 8000',
        ignoreFocusOut: true,
        validateInput: commandLineError,
      });
      if (line === undefined || line.trim() === '') return undefined;
      const [command, ...args] = splitCommandLine(line);
      return table.start({ command, args, cwd: workspaceCwd() });
    });
  };

  // Its argument is a file Uri (from the explorer, the editor's title, a caller); without one it runs the active
  // editor's file, and with no editor open it offers the workspace's runnable files.
  const runFile = (arg?: unknown) => {
    const interactive = isViewArgument(isRow, arg);
    return runCommand(interactive, async () => {
      if (!interactive && !(arg instanceof vscode.Uri)) throw new Error(`Expected a file Uri to run, got ${describeValue(arg)}`);
      const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri ?? (await pickRunnableFile());
      if (!uri) return undefined;
      if (uri.scheme !== 'file') throw new Error(`Only files on disk can be run, not ${uri.toString()}`);
      if (!ensureTrusted('files from the workspace')) return undefined;
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      if (open?.isDirty) await open.save();
      const python = await pythonInterpreter(pythonPathFor(uri), uri);
      const started = await table.start(specForFile(uri.fsPath, python));
      void outputs.show(started.id, started.name, true); // what the program prints, next to its source
      return started;
    });
  };

  /** The workspace's definitions; with none, says so in the view (`command`: who asks). */
  function configured(command: string): readonly Definition[] | undefined {
    const list = definitions.runner.definitions();
    if (list.length > 0) return list;
    // In Restricted Mode VS Code hides the workspace's value of this restricted setting altogether.
    if (!vscode.workspace.isTrusted) ensureTrusted('the processes this workspace defines');
    else explainNoDefinitions(command);
    return undefined;
  }

  // Start Workspace Process… and Start All take no argument: from the view's title bar they are handed the selected
  // row, which changes nothing.
  const startConfigured = async () => {
    const list = configured('Start Workspace Process');
    if (!list) return undefined;
    const multiRoot = new Set(list.map((d) => d.folder)).size > 1;
    const picked = await vscode.window.showQuickPick(
      list.map((d) => ({
        label: d.name,
        description: `${definitions.runner.stateOf(d)} · ${[d.spec.command, ...(d.spec.args ?? [])].join(' ')}`,
        detail: multiRoot ? vscode.workspace.asRelativePath(d.folder) : undefined,
        definition: d,
      })),
      { title: 'ProcScope: Start Workspace Process', placeHolder: 'Processes to start (with their dependencies)', canPickMany: true },
    );
    if (!picked || picked.length === 0) return undefined;
    const results: ProcessSnapshot[] = [];
    for (const p of picked) {
      const started = await startDefinition(p.definition);
      if (started) results.push(started);
    }
    return results;
  };

  // One instance each: what runs already is not started again, nor what ended by itself (a finished job, a crash
  // loop); what was stopped is. Resolves with the snapshots of the definitions' runs, those already running included.
  const startAll = async () => {
    const list = configured('Start All');
    if (!list) return [];
    const failed: string[] = [];
    await definitions.runner.startAll(undefined, (d, error) => failed.push(`${d.name}: ${error.message}`));
    if (failed.length > 0) void vscode.window.showErrorMessage(`ProcScope: ${failed.join('; ')}`);
    return list.flatMap((d) => {
      const row = definitions.runner.rowOf(d);
      return row ? [table.get(row.id) as ProcessSnapshot] : [];
    });
  };

  /**
   * Starts one definition. If it runs already, asks as VS Code's tasks do: Restart, Start Another, or Cancel (a caller
   * passing the definition's row or name gets the running one, without a prompt).
   */
  async function startDefinition(definition: Definition, ask = true): Promise<ProcessSnapshot | undefined> {
    const row = definitions.runner.rowOf(definition);
    if (row?.alive && ask) {
      const choice = await vscode.window.showInformationMessage(`${definition.name} is already running.`, { modal: true }, 'Restart', 'Start Another');
      if (choice === 'Restart') return table.restart(row.id, { spec: definition.spec, policy: { restart: definition.restart, ready: definition.ready }, cwd: definition.folder });
      if (choice === 'Start Another') return definitions.runner.start(definition, { another: true });
      return undefined;
    }
    return definitions.runner.start(definition);
  }

  /** The row menu's Start (a definition's row or its not-started row), or a name from a caller. */
  const startDefinitionCommand = (arg?: unknown) =>
    runCommand(isViewArgument(isDefinitionElement, arg), async () => {
      const definition = definitionOf(definitions.runner, arg);
      return startDefinition(definition, isViewArgument(isDefinitionElement, arg));
    });

  return [
    vscode.commands.registerCommand('procscope.start', start),
    vscode.commands.registerCommand('procscope.runFile', runFile),
    vscode.commands.registerCommand('procscope.startConfigured', startConfigured),
    vscode.commands.registerCommand('procscope.startAll', startAll),
    vscode.commands.registerCommand('procscope.startDefinition', startDefinitionCommand),
    vscode.commands.registerCommand('procscope.editWorkspaceProcesses', (arg?: unknown) => runCommand(!(arg instanceof vscode.Uri), () => editWorkspaceProcesses(arg))),
    trackDefinitions(definitions.runner),
  ];
}
