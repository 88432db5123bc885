// Signals a launched process and all its descendants at once: one process-group signal, plus each descendant that left the group.
import treeKill from 'tree-kill';
import { sameProcess, sameStart } from '../os/identity';
import { isDead, type OsProcess } from '../os/osProcess';
import { descendantsIn, type ProcessSource, type TreeMember } from '../os/processSource';

/** A process we know by pid and start stamp, so a reused pid is never mistaken for it. */
export interface ProcessIdentity {
  pid: number;
  startTime: number;
}

/** A descendant seen by a poll; with its group and thread count the walk before a signal need not read it again. */
export interface KnownProcess extends ProcessIdentity {
  pgid?: number;
  threads?: number;
}

export interface TreeRoot extends ProcessIdentity {
  /** The group the root leads (its pid, as ProcScope starts every process in its own group); undefined on Windows. */
  pgid: number | undefined;
  /** True until the root has been reaped: while it is, its pid and group id cannot belong to anyone else. */
  leaderAlive: boolean;
}

function send(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false; // already gone (ESRCH), or not ours to signal (EPERM)
  }
}

/** The processes among `known` that are still the very processes we recorded. */
async function stillThere(source: ProcessSource, known: Iterable<ProcessIdentity>): Promise<OsProcess[]> {
  const alive: OsProcess[] = [];
  for (const { pid, startTime } of known) {
    const now = await source.get(pid);
    if (sameProcess(now, startTime)) alive.push(now);
  }
  return alive;
}

/**
 * Sends `signal` to `root` and every descendant, and returns every process signalled (so the caller can wait for them).
 * `known` are descendants seen earlier: orphans that were re-parented away from the tree are still found through them.
 */
export async function signalTree(
  source: ProcessSource | undefined,
  root: TreeRoot,
  known: Iterable<KnownProcess>,
  signal: NodeJS.Signals,
): Promise<ProcessIdentity[]> {
  if (!source) return signalWithTreeKill(root, signal);
  const targets = new Map<number, TreeMember>();
  const knownMembers = new Map<number, TreeMember>();
  for (const k of known) {
    if (k.pgid !== undefined && k.threads !== undefined) knownMembers.set(k.pid, { pid: k.pid, startTime: k.startTime, pgid: k.pgid, threads: k.threads });
  }
  let groupIsOurs = false;
  if (root.leaderAlive && root.pgid === undefined) {
    // Not our child, so nothing holds its pid for us: make sure it is still the same process.
    const now = await source.get(root.pid);
    if (!sameProcess(now, root.startTime)) root = { ...root, leaderAlive: false };
  }
  if (root.leaderAlive) {
    // Walk first: once the group is signalled, dying parents hand their children to init and the links are lost.
    for (const p of await source.walk(root.pid, knownMembers)) targets.set(p.pid, p);
    groupIsOurs = root.pgid !== undefined;
  }
  // Known descendants the walk just found again are not read a second time.
  const unseen = [...known].filter((k) => k.pid !== root.pid && !(targets.has(k.pid) && sameStart(k.startTime, targets.get(k.pid)?.startTime)));
  const survivors = await stillThere(source, unseen);
  if (!root.leaderAlive && survivors.length > 0) {
    // Orphans of a dead root: include whatever they spawned in turn.
    const table = await source.all();
    for (const orphan of survivors) for (const p of [orphan, ...descendantsIn(table, orphan.pid)]) if (!isDead(p)) targets.set(p.pid, p);
  } else {
    for (const p of survivors) targets.set(p.pid, p);
  }
  // A group id stays allocated while any member lives, so a known member proves the group is still ours.
  if (!groupIsOurs && root.pgid !== undefined) groupIsOurs = survivors.some((p) => p.pgid === root.pgid);

  const signalled: ProcessIdentity[] = [];
  if (root.leaderAlive) signalled.push({ pid: root.pid, startTime: root.startTime });
  if (groupIsOurs && root.pgid !== undefined) send(-root.pgid, signal);
  else if (root.leaderAlive) send(root.pid, signal);
  for (const p of targets.values()) {
    if (!(groupIsOurs && p.pgid === root.pgid)) send(p.pid, signal);
    signalled.push({ pid: p.pid, startTime: p.startTime });
  }
  return signalled;
}

function signalWithTreeKill(root: TreeRoot, signal: NodeJS.Signals): Promise<ProcessIdentity[]> {
  if (!root.leaderAlive) return Promise.resolve([]);
  return new Promise((resolve) => treeKill(root.pid, signal, () => resolve([{ pid: root.pid, startTime: root.startTime }])));
}

/** Is `target` still that very process and not a zombie? */
async function isAlive(source: ProcessSource | undefined, target: ProcessIdentity): Promise<boolean> {
  if (!source) return send(target.pid, 0 as unknown as NodeJS.Signals);
  const now = await source.get(target.pid);
  return sameProcess(now, target.startTime);
}

/** Those of `targets` still alive (zombies count as gone: they hold no resources but a table slot). */
export async function aliveAmong(source: ProcessSource | undefined, targets: readonly ProcessIdentity[]): Promise<ProcessIdentity[]> {
  const alive: ProcessIdentity[] = [];
  for (const target of targets) if (await isAlive(source, target)) alive.push(target);
  return alive;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Longest pause between looks while nothing ends (a process that ignores SIGTERM, say). */
/** How long after the signal the processes are looked at every millisecond, before the looks back off. */
const EAGER_CHECKS_MS = 100;
const MAX_CHECK_INTERVAL_MS = 25;

/**
 * Waits until every target is gone or `timeoutMs` passes; returns those still alive.
 * Each look stops at the first target still alive, so while a tree dies a look costs a read or two, not one per
 * process (a gone process never comes back: a reused pid has another start stamp). Looks come every millisecond
 * while processes keep ending, and back off to MAX_CHECK_INTERVAL_MS while none does.
 */
export async function waitGone(
  source: ProcessSource | undefined,
  targets: readonly ProcessIdentity[],
  timeoutMs: number,
): Promise<ProcessIdentity[]> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let next = 0;
  let delay = 1;
  for (;;) {
    const before = next;
    while (next < targets.length && !(await isAlive(source, targets[next]))) next++;
    if (next === targets.length) return [];
    if (Date.now() >= deadline) return aliveAmong(source, targets.slice(next));
    // Most trees are gone within milliseconds of the signal: look every millisecond at first (one stat read each).
    delay = next > before || Date.now() - started < EAGER_CHECKS_MS ? 1 : Math.min(delay * 2, MAX_CHECK_INTERVAL_MS);
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
  }
}
