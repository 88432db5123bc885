// Status text derived from the fields, as multiprocessing's Process.__repr__ derives it: initial, started, stopped[…];
// and the one count of live processes that the status bar and the view agree on.
import { signalName } from './signals';

/**
 * `started` while alive; after, `stopped` for exit code 0 (or an unknown one), `stopped[1]`, `stopped[SIGTERM]`,
 * as CPython's `Process.__repr__` prints them (`<Process(Process-1, stopped[SIGTERM])>`).
 */
export function statusText(alive: boolean, exitCode: number | null, pid: number | null): string {
  if (alive) return 'started';
  if (pid === null) return 'initial';
  if (exitCode === null || exitCode === 0) return 'stopped';
  return `stopped[${exitCodeName(exitCode)}]`;
}

/** `SIGTERM` for -15, the number itself otherwise. */
export function exitCodeName(exitCode: number): string {
  if (exitCode < 0) return signalName(-exitCode) ?? String(exitCode);
  return String(exitCode);
}

/** Seconds as Python prints a float: 1.0, 0.5, 2.25. */
export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return Number.isInteger(seconds) ? seconds.toFixed(1) : String(seconds);
}

/** A final state in words, the one way every message says it: `exitcode 0`, `exitcode -15 (SIGTERM)`, `ended` (no code known). */
export function exitDescription(exitCode: number | null): string {
  if (exitCode === null) return 'ended';
  return exitCode < 0 ? `exitcode ${exitCode} (${exitCodeName(exitCode)})` : `exitcode ${exitCode}`;
}

/** How a process ended, as a clause: `exited with exitcode 1`, `exited with exitcode -15 (SIGTERM)`, `ended`. */
export function endedInWords(exitCode: number | null): string {
  return exitCode === null ? 'ended' : `exited with ${exitDescription(exitCode)}`;
}

/** What the Processes view is built from: the rows under a row (`undefined`: the top level). */
export interface RowSource {
  children(parentId: string | undefined): readonly { readonly id: string; readonly alive: boolean }[];
}

/** How many rows of the view say alive: walked the way the view walks them, so the two never disagree. */
export function liveRowCount(rows: RowSource): number {
  let count = 0;
  const stack = [...rows.children(undefined)];
  for (let row = stack.pop(); row !== undefined; row = stack.pop()) {
    if (row.alive) count++;
    stack.push(...rows.children(row.id));
  }
  return count;
}
