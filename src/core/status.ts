// Status text derived from the fields, as multiprocessing's Process.__repr__ derives it: initial, started, stopped[…].
import { signalName } from './signals';

/** `started` while alive; `stopped[0]`, `stopped[1]`, `stopped[SIGTERM]` after; `stopped` when the code is unknown. */
export function statusText(alive: boolean, exitCode: number | null, pid: number | null): string {
  if (alive) return 'started';
  if (pid === null) return 'initial';
  if (exitCode === null) return 'stopped';
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
