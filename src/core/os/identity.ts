// The one rule for "is this still the process we recorded?": a pid is only ever trusted together with its start stamp.
import { isDead, type OsProcess } from './osProcess';

/**
 * True when `now` (the OS's answer for the pid) is alive and is the process recorded with `startTime`. A pid whose
 * start stamp differs was reused by another process; an unknown stamp (undefined, or 0 where none was read) trusts
 * the pid alone.
 */
export function sameProcess(now: OsProcess | undefined, startTime: number | undefined): now is OsProcess {
  return now !== undefined && !isDead(now) && (startTime === undefined || startTime === 0 || now.startTime === startTime);
}
