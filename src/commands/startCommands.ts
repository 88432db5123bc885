// Commands that start processes: a typed command line, the active file, the workspace's configured processes.
import * as vscode from 'vscode';
import { splitCommandLine } from '../core/commandLine';
import type { ProcessService } from '../core/host/processService';
import type { ProcessSnapshot, ProcessSpec } from '../core/types';
import { describeValue } from '../core/validate';
import type { SettingsWatcher } from '../config';
import type { ProcessOutputDocuments } from '../output/processOutputDocuments';
import { pickRunnableFile } from '../run/pickFile';
import { specForFile } from '../run/fileCommand';
import { pythonInterpreter } from '../run/interpreter';
import { runCommand } from './pickProcess';
import { isViewArgument, type IsRow } from './viewArguments';
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

export function registerStartCommands(table: ProcessService, settings: SettingsWatcher, outputs: ProcessOutputDocuments): vscode.Disposable[] {
  const isRow: IsRow = (id) => table.row(id) !== undefined;

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
      const python = await pythonInterpreter(settings.value.pythonPath, uri);
      const started = await table.start(specForFile(uri.fsPath, python));
      void outputs.show(started.id, started.name, true); // what the program prints, next to its source
      return started;
    });
  };

  /** Starts configured definitions; errors are reported per definition, the rest still start. */
  async function startDefinitions(definitions: ProcessSpec[]): Promise<ProcessSnapshot[]> {
    const started: ProcessSnapshot[] = [];
    for (const definition of definitions) {
      try {
        started.push(await table.start({ cwd: workspaceCwd(), ...definition }));
      } catch (error) {
        void vscode.window.showErrorMessage(`ProcScope: ${definition.name ?? definition.command}: ${(error as Error).message}`);
      }
    }
    return started;
  }

  /** The workspace's definitions; with none, says so in the view (`command`: who asks). */
  function configured(command: string): ProcessSpec[] | undefined {
    const definitions = settings.value.processes as ProcessSpec[];
    if (definitions.length > 0) return definitions;
    // In Restricted Mode VS Code hides the workspace's value of this restricted setting altogether.
    if (!vscode.workspace.isTrusted) ensureTrusted('the processes this workspace defines');
    else explainNoDefinitions(command);
    return undefined;
  }

  // Start Workspace Process… and Start All take no argument: from the view's title bar they are handed the selected
  // row, which changes nothing.
  const startConfigured = async () => {
    const definitions = configured('Start Workspace Process');
    if (!definitions) return undefined;
    const picked = await vscode.window.showQuickPick(
      definitions.map((d) => ({ label: d.name ?? d.command, description: [d.command, ...(d.args ?? [])].join(' '), detail: d.daemon ? 'daemon' : undefined, definition: d })),
      { title: 'ProcScope: Start Workspace Process', placeHolder: 'Processes to start', canPickMany: true },
    );
    return picked && picked.length > 0 ? startDefinitions(picked.map((p) => p.definition)) : undefined;
  };

  const startAll = async () => {
    const definitions = configured('Start All');
    return definitions ? startDefinitions(definitions) : [];
  };

  return [
    vscode.commands.registerCommand('procscope.start', start),
    vscode.commands.registerCommand('procscope.runFile', runFile),
    vscode.commands.registerCommand('procscope.startConfigured', startConfigured),
    vscode.commands.registerCommand('procscope.startAll', startAll),
    vscode.commands.registerCommand('procscope.editWorkspaceProcesses', (arg?: unknown) => runCommand(!(arg instanceof vscode.Uri), () => editWorkspaceProcesses(arg))),
    trackDefinitions(settings),
  ];
}
