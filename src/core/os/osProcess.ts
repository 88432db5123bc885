// What ProcScope needs to know about one OS process, whichever way the platform tells it.

export interface OsProcess {
  pid: number;
  ppid: number;
  /** Process group id (the same as pid for a group leader); -1 where the platform has none. */
  pgid: number;
  /** An opaque start stamp: the same pid with a different stamp is a different process (pid reuse). */
  startTime: number;
  /** Single-letter state as in /proc (R, S, D, Z, T, X…); 'Z' and 'X' mean the process is already dead. */
  state: string;
  /** Short command name (what `ps -o comm` shows). */
  comm: string;
  threads: number;
  /** CPU time used so far, in milliseconds (user + system). */
  cpuMs: number;
  /** Resident set size in bytes. */
  rssBytes: number;
}

/** Dead for every purpose of ours: gone, a zombie waiting to be reaped, or dying. */
export function isDead(process: OsProcess | undefined): boolean {
  return process === undefined || process.state === 'Z' || process.state === 'X' || process.state === 'x';
}
