// Tells a command's own argument from what VS Code's menus hand every command, so that a command run from the
// view's title bar or context menu prompts as it does from the palette.
//
// What VS Code passes (1.90 … 1.100: MultipleSelectionActionRunner, the elements of the view being process ids):
// - view/title actions: the focused row's id (null when none), then, when several rows are selected, their ids;
// - view/item/context and inline actions: the row's id, then the selected ids when several are selected, else undefined;
// - the palette and keybindings: nothing.
// A context-menu call `(id, undefined)` thus looks exactly like the programmatic `(id)` of a command whose second
// argument is optional: where a row's menu must prompt (Join…), the entry names a command of its own.
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../api';
import { isOtherViewElement } from '../tree/elements';

/** Whether a string is the id of a row of the view. */
export type IsRow = (id: string) => boolean;

/** True for what VS Code passes from a menu or the palette rather than an argument a caller chose: nothing, or rows. */
export function isViewArgument(isRow: IsRow, arg: unknown): boolean {
  if (arg === undefined || arg === null) return true;
  if (typeof arg === 'string') return isRow(arg);
  return isSelection(isRow, arg);
}

/** The ids of the selected rows, which VS Code passes after the row when several rows are selected. */
export function isSelection(isRow: IsRow, arg: unknown): boolean {
  return Array.isArray(arg) && arg.length > 0 && arg.every((item) => typeof item === 'string' && isRow(item));
}

/** Any element of the view: a process row (as `isProcess` tells) or a definition, problem, folder or `+N ended` row. */
export function viewElements(isProcess: IsRow): IsRow {
  return (id) => isProcess(id) || isOtherViewElement(id);
}

/** Elements of the view, process rows as ProcScope's own API knows them: for commands that are not handed the table. */
export const isElementOfThisExtension: IsRow = viewElements(
  (id) => vscode.extensions.getExtension<ProcScopeApi>('procscope.procscope')?.exports?.get(id) !== undefined,
);
