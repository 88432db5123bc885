// Reading the OS from outside, shared by the integration and stress suites: the PROCSCOPE_OWNER mark every process
// ProcScope starts inherits, and every live process carrying one owner's mark, whoever its parent is now.
import { readdirSync } from 'node:fs';
import { isDead } from '../../src/core/os/osProcess';
import { OWNER_VARIABLE } from '../../src/core/ownerMark';
import { readEnvironValue, readStat } from '../../src/core/os/procfs';

/** One variable of a process's environment as it was at exec, or undefined (unset, unreadable, gone). */
export function environValue(pid: number, name: string): string | undefined {
  return readEnvironValue(pid, name) ?? undefined;
}

/** The process's PROCSCOPE_OWNER mark (`owner/launch`), or undefined. */
export function ownerMark(pid: number): string | undefined {
  return environValue(pid, OWNER_VARIABLE);
}

/** Every live (non-zombie) process whose mark starts with `owner/`. */
export function processesMarkedBy(owner: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => !isDead(readStat(pid)) && ownerMark(pid)?.startsWith(`${owner}/`));
}
