// The one rule for "is this still the process we recorded?": a pid is only ever trusted together with its start stamp.
import { isDead, type OsProcess } from './osProcess';

/**
 * True when the OS's start stamp `observed` is that of the process recorded with `recorded`. An unknown recorded stamp
 * (undefined, or 0 where none could be read: platforms without one) trusts the pid alone.
 */
export function sameStart(recorded: number | undefined, observed: number | undefined): boolean {
  return recorded === undefined || recorded === 0 || observed === recorded;
}

/**
 * True when `now` (the OS's answer for the pid) is alive and is the process recorded with `startTime`. A pid whose
 * start stamp differs was reused by another process.
 */
export function sameProcess(now: OsProcess | undefined, startTime: number | undefined): now is OsProcess {
  return now !== undefined && !isDead(now) && sameStart(startTime, now.startTime);
}
