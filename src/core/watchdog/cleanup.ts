// What the watchdog does when the host is gone: end every registered group and process, and whatever they spawned.
import { sameProcess } from '../os/identity';
import { isDead, type OsProcess } from '../os/osProcess';
import { descendantsIn, type ProcessSource } from '../os/processSource';
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

/** Works out, from a fresh process table, which groups and processes are still the ones registered. */
export function planCleanup(registry: Registry, table: Map<number, OsProcess>): Plan {
  const verified: OsProcess[] = [];
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

/** SIGTERM to everything registered, then SIGKILL to whatever is left after `graceMs`. */
export async function cleanUp(registry: Registry, source: ProcessSource, graceMs: number): Promise<number> {
  const plan = planCleanup(registry, await source.all());
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
  signalPlan(planCleanup(registry, await source.all()), 'SIGKILL');
  signalPlan({ groups: plan.groups, processes: left }, 'SIGKILL');
  return plan.processes.length;
}
