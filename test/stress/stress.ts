// Shared by the stress tests: reading the OS from outside (marks, fds, RSS, children) and recording measured figures.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ProcessService } from '../../src/core/host/processService';
import type { SupervisorRecord } from '../../src/core/host/spawnSupervisor';
import { environValue, processesMarkedBy } from '../shared/marks';
import { ROOT } from '../unit/helpers';

export { ROOT };
export { environValue, processesMarkedBy };
export { statusBytes } from '../shared/procStatus';

/** State letter of `pid` from /proc/PID/stat, or undefined when it is gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Gone = no /proc entry, or a zombie (PID 1 on these machines does not always reap orphans). */
export function isGone(pid: number): boolean {
  const state = procState(pid);
  return state === undefined || state === 'Z' || state === 'X';
}

/** The owner part of a process's PROCSCOPE_OWNER mark. */
export function ownerOf(pid: number): string {
  const mark = environValue(pid, 'PROCSCOPE_OWNER');
  if (!mark) throw new Error(`process ${pid} carries no PROCSCOPE_OWNER mark`);
  return mark.split('/')[0];
}

/** Number of open file descriptors of `pid` (the test process with 'self'). */
export function fdCount(pid: number | 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Direct children of `pid` (every thread's children list). */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        for (const word of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (word) found.push(Number(word));
      } catch {
        // thread gone
      }
    }
  } catch {
    // process gone
  }
  return found;
}

/** The private record of the supervisor a service talks to (its directory, socket, token). */
export function supervisorRecord(service: ProcessService): SupervisorRecord {
  const record = (service as unknown as { record?: SupervisorRecord }).record;
  if (!record) throw new Error('the service has no supervisor yet');
  return record;
}

export const MB = 1024 * 1024;
export const mb = (bytes: number | undefined) => (bytes === undefined ? null : Math.round((bytes / MB) * 10) / 10);

/** Runs a full garbage collection if it can be had (flags at runtime), so RSS comparisons are not noise. */
export function collectGarbage(): void {
  try {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch {
    // no gc: the bound is loose enough without it
  }
}

const ARTIFACT = join(ROOT, 'test-artifacts', 'stress.json');

/**
 * Merges one section of measured figures into test-artifacts/stress.json (read, merge, atomic rename: test files run one
 * at a time under `npm run test:stress`, and each writes only its own sections).
 */
export function recordFigures(section: string, figures: Record<string, unknown>): void {
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(readFileSync(ARTIFACT, 'utf8')) as Record<string, unknown>;
  } catch {
    // first section
  }
  all[section] = { ...figures, measuredAt: new Date().toISOString(), cpus: availableParallelism() };
  const temp = `${ARTIFACT}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(all, null, 2)}\n`);
  renameSync(temp, ARTIFACT);
}

/** Sends a signal to `pid` and ignores ESRCH (the tests end only what they started, by pid or group). */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}
