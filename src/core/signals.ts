// Signal numbers and names, for exit codes like -15 and status texts like stopped[SIGTERM].
import { constants } from 'node:os';

const byNumber = new Map<number, string>();
for (const [name, number] of Object.entries(constants.signals)) {
  if (!byNumber.has(number)) byNumber.set(number, name);
}

export function signalNumber(name: NodeJS.Signals): number {
  return constants.signals[name];
}

/** `SIGTERM` for 15; undefined for numbers that are not signals. */
export function signalName(number: number): string | undefined {
  return byNumber.get(number);
}

/** The exit code multiprocessing reports: the code, or minus the signal number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number | null {
  if (code !== null) return code;
  if (signal !== null) return -signalNumber(signal);
  return null;
}
