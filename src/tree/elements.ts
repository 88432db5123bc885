// The elements of the Processes view that are not process rows: a definition that has not run, a bad definition, a
// workspace folder; and the one rule that turns a menu's element (or a caller's name) into the definition it means.
import type { Definition, DefinitionProblem } from '../core/definitions/definitions';
import type { DefinitionRunner } from '../core/definitions/runner';
import { describeValue } from '../core/validate';

const DEFINITION = 'def:';
const PROBLEM = 'problem:';
const FOLDER = 'folder:';
/** The suffix of a parent's `+N ended` row. */
export const FOLDED_SUFFIX = '#ended';

export function definitionElement(definition: Pick<Definition, 'folder' | 'name'>): string {
  return `${DEFINITION}${encodeURIComponent(definition.folder)}/${encodeURIComponent(definition.name)}`;
}

export function problemElement(problem: Pick<DefinitionProblem, 'folder' | 'index'>): string {
  return `${PROBLEM}${encodeURIComponent(problem.folder)}/${problem.index}`;
}

export function folderElement(folder: string): string {
  return `${FOLDER}${encodeURIComponent(folder)}`;
}

export function isDefinitionElement(element: unknown): element is string {
  return typeof element === 'string' && element.startsWith(DEFINITION);
}

export function isProblemElement(element: string): boolean {
  return element.startsWith(PROBLEM);
}

export function isFolderElement(element: string): boolean {
  return element.startsWith(FOLDER);
}

/**
 * Whether a string is an element of the view that is not a process row (a definition, a problem, a folder, a `+N ended`
 * row): what VS Code hands a title-bar or menu command when such a row is selected.
 */
export function isOtherViewElement(element: string): boolean {
  return element.endsWith(FOLDED_SUFFIX) || isProblemElement(element) || isFolderElement(element) || isDefinitionElement(element);
}

/** The folder path of a folder element. */
export function folderOf(element: string): string {
  return decodeURIComponent(element.slice(FOLDER.length));
}

/** The problem a problem element stands for. */
export function problemOf(problems: readonly DefinitionProblem[], element: string): DefinitionProblem | undefined {
  return problems.find((p) => problemElement(p) === element);
}

/**
 * The definition meant by a command's argument: a not-started definition's element, the row of a definition's run,
 * a name (`web`), or `{ name, folder }`. Throws, naming the argument, when there is none.
 */
export function definitionOf(runner: DefinitionRunner, arg: unknown): Definition {
  if (isDefinitionElement(arg)) {
    const found = runner.definitions().find((d) => definitionElement(d) === arg);
    if (found) return found;
    throw new Error(`No procscope.processes definition for ${describeValue(arg)} any more`);
  }
  if (typeof arg === 'object' && arg !== null && 'name' in arg) {
    return runner.find((arg as { name: unknown }).name, (arg as { folder?: unknown }).folder);
  }
  if (typeof arg === 'string') {
    const run = runner.definitions().find((d) => runner.rowOf(d)?.id === arg);
    return run ?? runner.find(arg);
  }
  throw new Error(`Expected a definition (its name, or its row), got ${describeValue(arg)}`);
}
