// Turns a command argument (a tree element, an id, a snapshot) into a process id, or asks the user to pick one.
import * as vscode from 'vscode';
import { describeState, stripControl } from '../core/describe';
import type { ProcessService } from '../core/host/processService';
import type { ProcessSnapshot } from '../core/types';
import { describeValue } from '../core/validate';

/** The id named by `arg` (an id string, as tree rows pass, or anything with an `id`); throws for unknown ids. */
export function targetId(table: ProcessService, arg: unknown): string {
  const id = typeof arg === 'object' && arg !== null && 'id' in arg ? (arg as { id: unknown }).id : arg;
  if (typeof id !== 'string' || !table.row(id)) throw new Error(`No process with id ${describeValue(id)}`);
  return id;
}

/** Asks for a process among those `filter` accepts; undefined when there is none or the user cancels. */
export async function pickProcess(
  table: ProcessService,
  placeHolder: string,
  filter: (p: ProcessSnapshot) => boolean,
  emptyMessage: string,
): Promise<string | undefined> {
  const candidates = table.processes().filter(filter);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(emptyMessage);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((p) => ({ label: stripControl(p.name), description: describeState(p), detail: stripControl([p.command, ...p.args].join(' ')), id: p.id })),
    { placeHolder, matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.id;
}

/** Runs `action` for a command: with a target it throws on errors; from the palette it shows them. */
export async function runCommand<T>(interactive: boolean, action: () => Promise<T>): Promise<T | undefined> {
  if (!interactive) return action();
  try {
    return await action();
  } catch (error) {
    void vscode.window.showErrorMessage(`ProcScope: ${(error as Error).message}`);
    return undefined;
  }
}
