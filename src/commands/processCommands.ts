// Commands on one process or all of them: terminate, kill, join, restart, show output, stop all, clear exited.
import * as vscode from 'vscode';
import type { ProcessService } from '../core/host/processService';
import { exitCodeName } from '../core/status';
import type { ProcessSnapshot } from '../core/types';
import { validateTimeout } from '../core/validate';
import type { ProcessOutputDocuments } from '../output/processOutputDocuments';
import { hasTarget, pickProcess, runCommand, targetId } from './pickProcess';

const isAlive = (p: ProcessSnapshot) => p.alive;

function outcome(p: ProcessSnapshot): string {
  if (p.alive) return `${p.name} is still alive`;
  if (p.exitCode === null) return `${p.name} has ended`;
  return `${p.name} exited with exitcode ${p.exitCode}${p.exitCode < 0 ? ` (${exitCodeName(p.exitCode)})` : ''}`;
}

export function registerProcessCommands(table: ProcessService, outputs: ProcessOutputDocuments): vscode.Disposable[] {
  /** Resolves the target from the argument, or by asking; undefined when the user cancels. */
  async function target(arg: unknown, placeHolder: string, filter: (p: ProcessSnapshot) => boolean, empty: string): Promise<string | undefined> {
    return hasTarget(arg) ? targetId(table, arg) : pickProcess(table, placeHolder, filter, empty);
  }

  function ending(verb: 'terminate' | 'kill') {
    return (arg?: unknown) =>
      runCommand(!hasTarget(arg), async () => {
        const id = await target(arg, `Process to ${verb}`, isAlive, 'No process is running.');
        if (id === undefined) return undefined;
        const name = table.row(id)?.name ?? id;
        return vscode.window.withProgress(
          { location: vscode.ProgressLocation.Window, title: `${verb === 'kill' ? 'Killing' : 'Terminating'} ${name}` },
          () => (verb === 'kill' ? table.kill(id) : table.terminate(id)),
        );
      });
  }

  const join = (arg?: unknown, timeoutMs?: unknown) =>
    runCommand(!hasTarget(arg), async () => {
      if (hasTarget(arg)) return table.join(targetId(table, arg), validateTimeout(timeoutMs));
      const id = await pickProcess(table, 'Process to join (wait for)', isAlive, 'No process is running.');
      if (id === undefined) return undefined;
      const text = await vscode.window.showInputBox({
        title: 'Join: timeout',
        prompt: 'Milliseconds to wait; leave empty to wait until the process exits',
        validateInput: (value) => (value.trim() === '' || /^\d+(\.\d+)?$/.test(value.trim()) ? undefined : 'A non-negative number of milliseconds'),
      });
      if (text === undefined) return undefined;
      const timeout = text.trim() === '' ? undefined : Number(text);
      const name = table.row(id)?.name ?? id;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Joining ${name}…`, cancellable: true },
        (_progress, token) =>
          Promise.race([table.join(id, timeout), new Promise<ProcessSnapshot>((resolve) => token.onCancellationRequested(() => resolve(table.get(id) as ProcessSnapshot)))]),
      );
      void vscode.window.showInformationMessage(outcome(result));
      return result;
    });

  const restart = (arg?: unknown) =>
    runCommand(!hasTarget(arg), async () => {
      const id = await target(arg, 'Process to restart', (p) => p.kind === 'launched', 'No process to restart.');
      return id === undefined ? undefined : table.restart(id);
    });

  const showOutput = (arg?: unknown) =>
    runCommand(!hasTarget(arg), async () => {
      const id = await target(arg, 'Process whose output to show', (p) => p.kind === 'launched', 'No process has been started yet.');
      if (id === undefined) return undefined;
      const row = table.row(id);
      const launched = row?.kind === 'launched' ? row : table.row(row?.rootId ?? '');
      if (!launched) return undefined;
      await outputs.show(launched.id, launched.name);
      return table.get(launched.id);
    });

  const stopAll = () =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Stopping all processes' }, () => table.stopAll());

  const copyPid = async (arg?: unknown) => {
    const pid = table.get(targetId(table, arg))?.pid;
    if (pid !== null && pid !== undefined) await vscode.env.clipboard.writeText(String(pid));
  };

  return [
    vscode.commands.registerCommand('procscope.terminate', ending('terminate')),
    vscode.commands.registerCommand('procscope.kill', ending('kill')),
    vscode.commands.registerCommand('procscope.join', join),
    vscode.commands.registerCommand('procscope.restart', restart),
    vscode.commands.registerCommand('procscope.showOutput', showOutput),
    vscode.commands.registerCommand('procscope.stopAll', stopAll),
    vscode.commands.registerCommand('procscope.clearExited', () => table.clearExited()),
    vscode.commands.registerCommand('procscope.copyPid', copyPid),
  ];
}
