// Who waits on which synchronisation object, who holds it, and the cycles that make a deadlock: built from the Python
// helper's reports (sync.py), turned into `wait` and `deadlock` events and WARNING records.
//
// A waiting process reports the locks it holds as it starts to wait, and has held them since: so every holder in a
// cycle of waiting processes is known for certain, and a cycle is never reported from stale knowledge. Holders of
// locks outside a cycle are the best known (a process's first acquisition of a lock, and every acquisition that
// followed a wait), which is what the row says.
import type { SyncMessage, SyncWait } from '../instrument/protocol';
import { LEVELS } from '../levels';
import type { ProcessEvent } from '../model/events';
import type { ReadonlyRow } from '../model/row';
import type { ProcessState } from '../model/state';
import { endedInWords } from '../status';
import type { WaitingOn } from '../types';

/** Kinds whose holder is a process (the others wait for a notification, an item, a party, not for an owner). */
const HOLDER_KINDS = new Set(['Lock', 'RLock']);
/** Objects remembered at most (their kind and creation site): the oldest go first. */
const MAX_OBJECTS = 20_000;
const MAIN_PROCESS = 'MainProcess';
/** How long a Queue.get must find nobody else of its program running before the hint is given. */
const NO_PRODUCER_MS = 1000;
/** How long a wait on a lock whose last known holder died must go on before it is told. */
const DEAD_HOLDER_MS = 400;

export interface SyncContext {
  readonly state: ProcessState;
  emit(event: ProcessEvent): void;
  log(level: number, process: string, message: string): void;
}

interface SyncObject {
  kind: string;
  site: string;
}

interface Wait extends SyncWait {
  holds: string[];
}

/** One step of a cycle or chain of waits: `waiter` waits on `wait`, which `next` holds (or is, for a join). */
interface Edge {
  waiter: number;
  wait: Wait;
  next: number;
}

export class SyncGraph {
  private readonly objects = new Map<string, SyncObject>();
  /** Object id → pid of the process that last held it, as far as reports tell. */
  private readonly holders = new Map<string, number>();
  /** pid → what it waits on now. */
  private readonly waits = new Map<number, Wait>();
  /** Deadlocks already told, by a key of their processes and objects, so each is told once. */
  private readonly told = new Set<string>();
  /** Waits (`pid>object`) that were part of something told: their holder's end later is no news. */
  private readonly toldWaits = new Set<string>();
  private marked = new Set<string>();
  /** Queue.get waits (`pid>object`) found with nobody else running, and since when; those already hinted at. */
  private readonly lonelySince = new Map<string, number>();
  private readonly hinted = new Set<string>();
  private hintTimer: NodeJS.Timeout | undefined;
  private recheckTime = 0;
  private readonly subscription: { dispose(): void };

  constructor(private readonly context: SyncContext) {
    // A holder's exit can turn a wait into a deadlock; a waiter's exit ends its wait.
    // A waiter's row may come after its first report (a child's own connection can be faster than its parent's).
    this.subscription = context.state.onDidChange(() => {
      for (const pid of this.waits.keys()) this.publish(pid);
      if (this.waits.size > 0 || this.marked.size > 0) this.check();
    });
  }

  /** One report of the helper, from process `report.value.pid`. */
  handle(report: SyncMessage): void {
    switch (report.type) {
      case 'sync':
        this.remember(report.value.id, { kind: report.value.kind, site: report.value.site });
        return;
      case 'hold':
        this.holders.set(report.value.id, report.value.pid);
        this.refreshWaitersOn(report.value.id);
        return;
      case 'wait': {
        const wait = report.value;
        // What it holds while it waits is known for certain: take it, and drop what it was thought to hold besides.
        for (const [id, pid] of this.holders) if (pid === wait.pid && !wait.holds.includes(id)) this.holders.delete(id);
        for (const id of wait.holds) this.holders.set(id, wait.pid);
        if (!this.objects.has(wait.id) && wait.site && wait.kind !== 'Process.join') this.remember(wait.id, { kind: wait.kind, site: wait.site });
        this.waits.set(wait.pid, { ...wait });
        this.publish(wait.pid);
        for (const id of wait.holds) this.refreshWaitersOn(id);
        this.check();
        return;
      }
      case 'woke': {
        const { pid, id, acquired } = report.value;
        if (this.waits.get(pid)?.id === id) this.waits.delete(pid);
        if (acquired) this.holders.set(id, pid);
        const row = this.context.state.liveByPid(pid);
        if (row?.waitingOn) this.context.emit({ type: 'wait', id: row.id, at: Date.now(), waitingOn: null });
        if (acquired) this.refreshWaitersOn(id);
        this.check();
        return;
      }
    }
  }

  dispose(): void {
    this.subscription.dispose();
    clearTimeout(this.hintTimer);
  }

  private remember(id: string, object: SyncObject): void {
    this.objects.delete(id);
    this.objects.set(id, object);
    if (this.objects.size > MAX_OBJECTS) this.objects.delete(this.objects.keys().next().value as string);
  }

  /** The row of a pid: the live one, else the last that had it (a holder that exited). */
  private rowOfPid(pid: number): ReadonlyRow | undefined {
    const live = this.context.state.liveByPid(pid);
    if (live) return live;
    let last: ReadonlyRow | undefined;
    for (const row of this.context.state.all()) if (row.pid === pid) last = row;
    return last;
  }

  private nameOf(pid: number | undefined): string | undefined {
    return pid === undefined ? undefined : this.rowOfPid(pid)?.name ?? `pid ${pid}`;
  }

  /** What the wait's object is, as the row and the log say it: kind, creation site, holder. */
  private describe(wait: Wait): WaitingOn {
    const site = (wait.kind === 'Process.join' ? wait.site : this.objects.get(wait.id)?.site || wait.site) || 'unknown site';
    const holderPid = wait.kind === 'Process.join' ? wait.target : HOLDER_KINDS.has(wait.kind) ? this.holders.get(wait.id) : undefined;
    const holder = holderPid !== undefined && holderPid !== wait.pid ? this.nameOf(holderPid) : undefined;
    return holder === undefined ? { kind: wait.kind, site } : { kind: wait.kind, site, holder };
  }

  /** Tells the row of `pid` what it waits on now. */
  private publish(pid: number): void {
    const wait = this.waits.get(pid);
    const row = this.context.state.liveByPid(pid);
    if (!wait || !row) return;
    const waitingOn = this.describe(wait);
    const now = row.waitingOn;
    if (now && now.kind === waitingOn.kind && now.site === waitingOn.site && now.holder === waitingOn.holder) return;
    this.context.emit({ type: 'wait', id: row.id, at: now ? row.waitingSince ?? wait.time : wait.time, waitingOn });
  }

  private refreshWaitersOn(id: string): void {
    for (const [pid, wait] of this.waits) if (wait.id === id) this.publish(pid);
  }

  /** The process `waiter`'s wait is on, if that one is known for certain (a joined process, a waiting holder). */
  private edgeOf(waiter: number, wait: Wait, certain: boolean): number | undefined {
    if (wait.kind === 'Process.join') return wait.target;
    if (!HOLDER_KINDS.has(wait.kind)) return undefined;
    const holder = this.holders.get(wait.id);
    if (holder === undefined || holder === waiter) return undefined;
    if (certain && !this.waits.get(holder)?.holds.includes(wait.id)) return undefined;
    return holder;
  }

  /** Finds cycles of waits and waits on locks whose holder died; tells each new one at WARNING and marks the rows. */
  private check(): void {
    const state = this.context.state;
    // Waits of processes that ended are over; a waiter whose row has not come yet (its own report was faster than its
    // parent's start report) keeps its wait, told when the row comes.
    for (const pid of [...this.waits.keys()]) {
      if (!state.liveByPid(pid) && this.rowOfPid(pid) !== undefined) this.waits.delete(pid);
    }
    const marked = new Set<string>();
    const stuck = new Set<number>();
    for (const [start] of this.waits) {
      if (stuck.has(start)) continue;
      // Follow certain edges from `start`: back to a process on the path is a cycle.
      const path: Edge[] = [];
      const onPath = new Map<number, number>();
      let pid: number | undefined = start;
      while (pid !== undefined && !onPath.has(pid)) {
        const wait = this.waits.get(pid);
        if (!wait) break;
        const next = this.edgeOf(pid, wait, true);
        if (next === undefined) break;
        onPath.set(pid, path.length);
        path.push({ waiter: pid, wait, next });
        pid = next;
      }
      if (pid === undefined || !onPath.has(pid)) continue;
      const cycle = path.slice(onPath.get(pid));
      for (const edge of cycle) stuck.add(edge.waiter);
      this.tell(cycle, undefined, marked);
    }
    // A lock whose holder has exited is never released (a multiprocessing.Lock has no owner to release it for). The
    // holder is only the last known one, so it is told only when that process died of a signal or an error (a clean
    // exit from `with lock:` released it) and the wait still goes on a moment after both began.
    const now = Date.now();
    for (const [pid, wait] of this.waits) {
      if (stuck.has(pid) || !HOLDER_KINDS.has(wait.kind) || this.toldWaits.has(`${pid}>${wait.id}`)) continue;
      const holder = this.holders.get(wait.id);
      if (holder === undefined || holder === pid || state.liveByPid(holder)) continue;
      const dead = this.rowOfPid(holder);
      if (!dead || dead.alive || dead.exitCode === 0) continue;
      const settledAt = Math.max(wait.time, dead.endedAt ?? now) + DEAD_HOLDER_MS;
      if (now < settledAt) {
        this.recheckAt(settledAt);
        continue;
      }
      this.tell([{ waiter: pid, wait, next: holder }], dead, marked);
    }
    this.hintAtLonelyGets(stuck);
    if (marked.size !== this.marked.size || [...marked].some((id) => !this.marked.has(id))) {
      this.marked = marked;
      this.context.emit({ type: 'deadlock', ids: [...marked] });
    }
  }

  /** Looks again at `at` (the earliest of the times asked for), when nothing else has made it look by then. */
  private recheckAt(at: number): void {
    if (this.hintTimer && this.recheckTime <= at) return;
    clearTimeout(this.hintTimer);
    this.recheckTime = at;
    this.hintTimer = setTimeout(() => {
      this.hintTimer = undefined;
      this.check();
    }, Math.max(0, at - Date.now()) + 10);
    this.hintTimer.unref?.();
  }

  /**
   * A Queue.get while no other process of the program runs (every other one waits too, or is gone) will likely never
   * return: hinted at INFO once it has been so for a second.
   */
  private hintAtLonelyGets(stuck: ReadonlySet<number>): void {
    const state = this.context.state;
    const now = Date.now();
    const lonely = new Set<string>();
    for (const [pid, wait] of this.waits) {
      if (wait.kind !== 'Queue.get' || stuck.has(pid)) continue;
      const row = state.liveByPid(pid);
      if (!row) continue;
      const others = [state.get(row.rootId), ...state.subtree(row.rootId)].filter((r): r is ReadonlyRow =>
        r !== undefined && r.alive && r.id !== row.id && (r.kind === 'python' || r.kind === 'launched') && r.role === undefined);
      if (others.some((other) => other.pid === null || !this.waits.has(other.pid))) continue;
      const key = `${pid}>${wait.id}`;
      lonely.add(key);
      if (this.hinted.has(key)) continue;
      const since = this.lonelySince.get(key) ?? now;
      this.lonelySince.set(key, since);
      if (now - since >= NO_PRODUCER_MS) {
        this.hinted.add(key);
        const what = this.describe(wait);
        this.context.log(LEVELS.INFO, MAIN_PROCESS,
          `hint: ${row.name} waits on ${what.kind} (${what.site}), and no other process of the program is running to put anything there`);
      } else {
        this.recheckAt(since + NO_PRODUCER_MS);
      }
    }
    for (const key of [...this.lonelySince.keys()]) if (!lonely.has(key)) this.lonelySince.delete(key);
  }

  /** Spells out a cycle (or a wait on a dead holder) once, and marks its rows. */
  private tell(edges: Edge[], deadHolder: ReadonlyRow | undefined, marked: Set<string>): void {
    for (const edge of edges) {
      const row = this.context.state.liveByPid(edge.waiter);
      if (row) marked.add(row.id);
    }
    // The same cycle from whichever process it is entered: start at the lowest pid.
    const first = edges.reduce((low, edge, i) => (edge.waiter < edges[low].waiter ? i : low), 0);
    const ordered = [...edges.slice(first), ...edges.slice(0, first)];
    const key = ordered.map((e) => `${e.waiter}>${e.wait.id}`).join(' ') + (deadHolder ? ` dead:${deadHolder.id}` : '');
    if (this.told.has(key)) return;
    this.told.add(key);
    for (const edge of ordered) this.toldWaits.add(`${edge.waiter}>${edge.wait.id}`);
    const parts = ordered.map((edge, i) => {
      const name = this.nameOf(edge.waiter);
      const what = this.describe(edge.wait);
      const step = edge.wait.kind === 'Process.join'
        ? `joins ${this.nameOf(edge.next)} (${what.site})`
        : `waits on ${what.kind} (${what.site}) held by ${this.nameOf(edge.next)}`;
      return i === 0 ? `${name} ${step}` : `which ${step}`;
    });
    if (deadHolder) parts.push(`which ${endedInWords(deadHolder.exitCode)}`);
    this.context.log(LEVELS.WARNING, MAIN_PROCESS, `deadlock: ${parts.join(', ')}`);
  }
}
