// Commands on one process or all of them: terminate, kill, join, restart, show output, stop all, clear exited.
import * as vscode from 'vscode';
import type { ProcessService } from '../core/host/processService';
import { endedInWords } from '../core/status';
import type { ProcessSnapshot } from '../core/types';
import { validateTimeout } from '../core/validate';
import type { ProcessOutputDocuments } from '../output/processOutputDocuments';
import { isOtherViewElement } from '../tree/elements';
import { pickProcess, runCommand, targetId } from './pickProcess';
import { isSelection, isViewArgument, type IsRow } from './viewArguments';

const isAlive = (p: ProcessSnapshot) => p.alive;

/** How long a status-bar message stays: long enough to read, short enough not to linger. */
const STATUS_MESSAGE_MS = 5000;

function outcome(p: ProcessSnapshot): string {
  if (p.alive) return `${p.name} is still alive`;
  return `${p.name} ${endedInWords(p.exitCode)}`;
}

export function registerProcessCommands(table: ProcessService, outputs: ProcessOutputDocuments): vscode.Disposable[] {
  const isRow: IsRow = (id) => table.row(id) !== undefined;
  /** From the palette there is no argument: the command asks. A row or an id given runs without prompts. */
  const fromPalette = (arg: unknown) => arg === undefined || arg === null;

  /** Resolves the target from the argument, or by asking; undefined when the user cancels. */
  async function target(arg: unknown, placeHolder: string, filter: (p: ProcessSnapshot) => boolean, empty: string): Promise<string | undefined> {
    return fromPalette(arg) ? pickProcess(table, placeHolder, filter, empty) : targetId(table, arg);
  }

  function ending(verb: 'terminate' | 'kill') {
    return (arg?: unknown) =>
      runCommand(fromPalette(arg), async () => {
        const id = await target(arg, `Process to ${verb}`, isAlive, 'No process is running.');
        if (id === undefined) return undefined;
        const name = table.row(id)?.name ?? id;
        return vscode.window.withProgress(
          { location: vscode.ProgressLocation.Window, title: `${verb === 'kill' ? 'Killing' : 'Terminating'} ${name}` },
          () => (verb === 'kill' ? table.kill(id) : table.terminate(id)),
        );
      });
  }

  /** Asks for the timeout, joins under a cancellable progress and says how it ended: Join… from the palette or a row. */
  async function joinWithPrompt(id: string): Promise<ProcessSnapshot | undefined> {
    const name = table.row(id)?.name ?? id;
    const text = await vscode.window.showInputBox({
      title: `Join ${name}: timeout`,
      prompt: 'Milliseconds to wait; leave empty to wait until the process exits',
      validateInput: (value) => (value.trim() === '' || /^\d+(\.\d+)?$/.test(value.trim()) ? undefined : 'A non-negative number of milliseconds'),
    });
    if (text === undefined) return undefined;
    const timeout = text.trim() === '' ? undefined : Number(text);
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Joining ${name}…`, cancellable: true },
      (_progress, token) =>
        Promise.race([table.join(id, timeout), new Promise<ProcessSnapshot>((resolve) => token.onCancellationRequested(() => resolve(table.get(id) as ProcessSnapshot)))]),
    );
    void vscode.window.showInformationMessage(outcome(result));
    return result;
  }

  // Programmatic: (id, timeoutMs?) and no prompt. From the palette: pick, then prompt. With a selection of rows
  // after the row (a context menu with several rows selected): prompt.
  const join = (arg?: unknown, timeoutMs?: unknown) => {
    const interactive = fromPalette(arg) || (isViewArgument(isRow, arg) && isSelection(isRow, timeoutMs));
    return runCommand(interactive, async () => {
      if (!interactive) return table.join(targetId(table, arg), validateTimeout(timeoutMs));
      const id = fromPalette(arg) ? await pickProcess(table, 'Process to join (wait for)', isAlive, 'No process is running.') : targetId(table, arg);
      return id === undefined ? undefined : joinWithPrompt(id);
    });
  };

  // The Join… of a row's menu: VS Code calls it (id, undefined), which procscope.join cannot tell from a caller's (id).
  const joinRow = (arg?: unknown) => runCommand(true, async () => joinWithPrompt(targetId(table, arg)));

  const restart = (arg?: unknown) =>
    runCommand(fromPalette(arg), async () => {
      const id = await target(arg, 'Process to restart', (p) => p.kind === 'launched', 'No process to restart.');
      return id === undefined ? undefined : table.restart(id);
    });

  const showOutput = (arg?: unknown) =>
    runCommand(fromPalette(arg), async () => {
      const id = await target(arg, 'Process whose output to show', (p) => p.kind === 'launched', 'No process has been started yet.');
      if (id === undefined) return undefined;
      const row = table.row(id);
      const launched = row?.kind === 'launched' ? row : table.row(row?.rootId ?? '');
      if (!launched) return undefined;
      await outputs.show(launched.id, launched.name);
      return table.get(launched.id);
    });

  // Takes no argument: from the view's title bar VS Code hands it the selected row, which changes nothing.
  const stopAll = async () => {
    const stopped = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Stopping all processes' }, () => table.stopAll());
    vscode.window.setStatusBarMessage(
      stopped.length === 0 ? 'ProcScope: no process is running' : `ProcScope: stopped ${stopped.length} process${stopped.length === 1 ? '' : 'es'}`,
      STATUS_MESSAGE_MS,
    );
    return stopped;
  };

  // In a process row's menu; an element of the view that is no process (a definition not started, a folder) has no
  // pid to copy, which the status bar says. An unknown id is an error, as for the other row commands.
  const copyPid = async (arg?: unknown) => {
    if (typeof arg === 'string' && isOtherViewElement(arg)) {
      vscode.window.setStatusBarMessage('ProcScope: this row is not a running process: no pid to copy', STATUS_MESSAGE_MS);
      return undefined;
    }
    const p = table.get(targetId(table, arg));
    if (!p) return undefined;
    if (p.pid === null) {
      vscode.window.setStatusBarMessage(`ProcScope: ${p.name} has no pid (it never started)`, STATUS_MESSAGE_MS);
      return undefined;
    }
    await vscode.env.clipboard.writeText(String(p.pid));
    vscode.window.setStatusBarMessage(`$(copy) Copied pid ${p.pid} of ${p.name}`, STATUS_MESSAGE_MS);
    return p.pid;
  };

  return [
    vscode.commands.registerCommand('procscope.terminate', ending('terminate')),
    vscode.commands.registerCommand('procscope.kill', ending('kill')),
    vscode.commands.registerCommand('procscope.join', join),
    vscode.commands.registerCommand('procscope.joinRow', joinRow),
    vscode.commands.registerCommand('procscope.restart', restart),
    vscode.commands.registerCommand('procscope.showOutput', showOutput),
    vscode.commands.registerCommand('procscope.stopAll', stopAll),
    vscode.commands.registerCommand('procscope.clearExited', () => table.clearExited()),
    vscode.commands.registerCommand('procscope.copyPid', copyPid),
  ];
}
