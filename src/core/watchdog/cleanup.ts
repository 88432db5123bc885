// What the watchdog does when the supervisor is gone: end every registered group and process, every process carrying
// the supervisor's mark, and whatever they spawned.
import { sameProcess } from '../os/identity';
import { isDead, type OsProcess } from '../os/osProcess';
import { descendantsIn, type ProcessSource } from '../os/processSource';
import { markedRow, OWNER_VARIABLE } from '../ownerMark';
import type { Registry } from './protocol';

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

interface Plan {
  groups: number[];
  processes: OsProcess[];
}

/**
 * A process carrying the supervisor's mark and younger than this is ended with it when it dies, registered or not:
 * its registration may not have been written yet (WatchdogClient holds them back 100 ms). Older ones were
 * registered, or left the supervisor's watch on purpose; a process started from one of them that inherited the mark
 * (a second VS Code window opened from a launched shell) is left alone.
 */
export const MARKED_MAX_AGE_MS = 5000;

/**
 * The live processes of `table` younger than MARKED_MAX_AGE_MS whose environment carries the mark of one of `owners`,
 * read from them now (so a reused pid is never taken for one). Nothing where environments or ages cannot be read.
 */
export function markedProcesses(table: Map<number, OsProcess>, source: ProcessSource, owners: ReadonlySet<string>, maxAgeMs = MARKED_MAX_AGE_MS): OsProcess[] {
  if (owners.size === 0 || !source.environValue) return [];
  source.refreshClock();
  const marked: OsProcess[] = [];
  for (const p of table.values()) {
    if (p.pid === process.pid || isDead(p)) continue;
    const age = source.ageMs(p);
    if (age === undefined || age > maxAgeMs) continue;
    const mark = source.environValue(p.pid, OWNER_VARIABLE);
    if (!mark) continue;
    for (const owner of owners) {
      if (markedRow(mark, owner) !== undefined) {
        marked.push(p);
        break;
      }
    }
  }
  return marked;
}

/** Works out, from a fresh process table, which groups and processes are still the ones registered or marked. */
export function planCleanup(registry: Registry, table: Map<number, OsProcess>, marked: readonly OsProcess[] = []): Plan {
  const verified: OsProcess[] = [...marked];
  for (const [pid, startTime] of registry.processes) {
    const p = table.get(pid);
    if (sameProcess(p, startTime)) verified.push(p);
  }
  const groups: number[] = [];
  const roots: OsProcess[] = [...verified];
  for (const [pgid, { leaderPid, startTime }] of registry.groups) {
    const leader = table.get(leaderPid);
    const leaderIsOurs = sameProcess(leader, startTime);
    if (leaderIsOurs) roots.push(leader);
    // A group id stays allocated while a member lives: a verified member proves the group is still the one we made.
    if (leaderIsOurs || verified.some((p) => p.pgid === pgid)) groups.push(pgid);
  }
  // A marked group leader's group is one we made (a launch), or one that it made (an escapee): its members go too.
  for (const p of marked) if (p.pgid === p.pid && !groups.includes(p.pgid)) groups.push(p.pgid);
  const processes = new Map<number, OsProcess>();
  for (const root of roots) for (const p of [root, ...descendantsIn(table, root.pid)]) if (!isDead(p)) processes.set(p.pid, p);
  for (const pgid of groups) for (const p of table.values()) if (p.pgid === pgid && !isDead(p)) processes.set(p.pid, p);
  return { groups, processes: [...processes.values()] };
}

function signalPlan(plan: Plan, signal: NodeJS.Signals): void {
  for (const pgid of plan.groups) send(-pgid, signal);
  for (const p of plan.processes) if (!plan.groups.includes(p.pgid)) send(p.pid, signal);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SIGTERM to everything registered or marked, then SIGKILL to whatever is left after `graceMs`. */
export async function cleanUp(registry: Registry, source: ProcessSource, graceMs: number, markedMaxAgeMs = MARKED_MAX_AGE_MS): Promise<number> {
  // After an orderly exit only what is registered; after a death, also what may not have been registered yet.
  const owners = registry.orderly ? new Set<string>() : registry.owners;
  const first = await source.all();
  const plan = planCleanup(registry, first, markedProcesses(first, source, owners, markedMaxAgeMs));
  if (plan.processes.length === 0) return 0;
  signalPlan(plan, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = plan.processes;
  while (Date.now() < deadline) {
    await sleep(20);
    const table = await source.all();
    left = left.filter((p) => {
      return sameProcess(table.get(p.pid), p.startTime);
    });
    if (left.length === 0) return plan.processes.length;
  }
  // Re-plan: new children may have appeared while the old ones shut down.
  const now = await source.all();
  signalPlan(planCleanup(registry, now, markedProcesses(now, source, owners, markedMaxAgeMs)), 'SIGKILL');
  signalPlan({ groups: plan.groups, processes: left }, 'SIGKILL');
  return plan.processes.length;
}
