// Commands that start processes: a typed command line, the active file, the workspace's configured processes.
import * as vscode from 'vscode';
import { splitCommandLine } from '../core/commandLine';
import type { ProcessService } from '../core/host/processService';
import type { ProcessSnapshot, ProcessSpec } from '../core/types';
import type { SettingsWatcher } from '../config';
import type { ProcessOutputDocuments } from '../output/processOutputDocuments';
import { specForFile } from '../run/fileCommand';
import { pythonInterpreter } from '../run/interpreter';
import { hasTarget, runCommand } from './pickProcess';

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
  const start = (arg?: unknown) =>
    runCommand(!hasTarget(arg), async () => {
      if (hasTarget(arg)) return table.start(arg);
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

  const runFile = (arg?: unknown) =>
    runCommand(!hasTarget(arg), async () => {
      const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
      if (!uri) throw new Error('Open a file to run it: there is no active editor');
      if (uri.scheme !== 'file') throw new Error(`Only files on disk can be run, not ${uri.toString()}`);
      if (!ensureTrusted('files from the workspace')) return undefined;
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      if (open?.isDirty) await open.save();
      const python = await pythonInterpreter(settings.value.pythonPath, uri);
      const started = await table.start(specForFile(uri.fsPath, python));
      void outputs.show(started.id, started.name, true); // what the program prints, next to its source
      return started;
    });

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

  function configured(): ProcessSpec[] | undefined {
    const definitions = settings.value.processes as ProcessSpec[];
    if (definitions.length > 0) return definitions;
    // In Restricted Mode VS Code hides the workspace's value of this restricted setting altogether.
    if (!vscode.workspace.isTrusted) ensureTrusted('the processes this workspace defines');
    else {
      void vscode.window
        .showInformationMessage('No processes are defined: add them to the procscope.processes setting.', 'Open Settings')
        .then((choice) => choice && vscode.commands.executeCommand('workbench.action.openSettings', 'procscope.processes'));
    }
    return undefined;
  }

  const startConfigured = async () => {
    const definitions = configured();
    if (!definitions) return undefined;
    const picked = await vscode.window.showQuickPick(
      definitions.map((d) => ({ label: d.name ?? d.command, description: [d.command, ...(d.args ?? [])].join(' '), detail: d.daemon ? 'daemon' : undefined, definition: d })),
      { placeHolder: 'Process to start', canPickMany: true },
    );
    return picked && picked.length > 0 ? startDefinitions(picked.map((p) => p.definition)) : undefined;
  };

  const startAll = async () => {
    const definitions = configured();
    return definitions ? startDefinitions(definitions) : [];
  };

  return [
    vscode.commands.registerCommand('procscope.start', start),
    vscode.commands.registerCommand('procscope.runFile', runFile),
    vscode.commands.registerCommand('procscope.startConfigured', startConfigured),
    vscode.commands.registerCommand('procscope.startAll', startAll),
  ];
}
