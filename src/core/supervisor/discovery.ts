// The /proc poll: finds what launched processes spawn, keeps liveness, CPU, memory and ports current, and decides
// which descendants are worth a row. Everything it learns becomes events on the supervisor's state.
//
// Not every descendant becomes a row: one that has lived less than a poll interval is not worth one (a shell loop's
// `date` every second would churn the tree), the helpers a launcher (a pyenv shim, `uv run`) runs before the Python
// program starts never become rows, and a parent shows only its last few ended children, the rest folded into
// `+N ended`. All of them are still tracked here, so terminate and the exit rules end them too.
import { formatCommandLine } from '../commandLine';
import { MAIN_PROCESS } from '../logger';
import type { ProcessEvent, Sample } from '../model/events';
import type { ReadonlyRow } from '../model/row';
import type { ProcessState } from '../model/state';
import { sameProcess } from '../os/identity';
import { isDead, type OsProcess } from '../os/osProcess';
import type { ProcessSource } from '../os/processSource';
import { markedRow, OWNER_VARIABLE } from '../ownerMark';
import type { ProcessRole } from '../types';
import type { WatchdogClient } from '../watchdog/client';

/** Ended discovered children a parent keeps as rows; older ones are folded into its `+N ended`. */
export const ENDED_ROWS_KEPT = 3;
/** How many polls read the environment of a new process that had none to read (caught in exec). */
const ENVIRON_RETRIES = 3;
/**
 * Between full walks of a tree (its children lists, two reads a process), a poll reads each known process once and
 * finds new descendants among the pids that appeared since the last poll, by their parent. A pid is reused only once
 * the kernel's counter wrapped, so a new process is a new pid; every this many polls, and at a launch's first, the
 * whole tree is walked again all the same.
 */
const FULL_WALK_EVERY = 10;
/** The row name of the Python program when a launcher (a wrapper such as `uv run`) spawned it. */
export const PROGRAM_NAME = MAIN_PROCESS;

const PYTHON_EXECUTABLE = /^(?:python|pypy)[\d.]*[dmtuw]?(?:-dbg|-debug)?(?:\.exe)?$/i;

/** Whether a path or command name is a Python interpreter. */
export function isPythonExecutable(path: string | undefined): boolean {
  if (!path) return false;
  return PYTHON_EXECUTABLE.test(path.slice(path.lastIndexOf('/') + 1));
}

/** multiprocessing's helper processes, by the `-c` program they run. */
export function machineryRole(argv: readonly string[]): ProcessRole | undefined {
  const code = argv.includes('-c') ? argv[argv.indexOf('-c') + 1] ?? '' : '';
  if (code.includes('multiprocessing.forkserver')) return 'forkserver';
  if (code.includes('multiprocessing.resource_tracker') || code.includes('multiprocessing.semaphore_tracker')) return 'resource_tracker';
  return undefined;
}

/** Whether `p` is `ancestor` or below it, following the parent links of this poll's view of the tree. */
function descendsFrom(p: OsProcess, ancestor: number, seen: ReadonlyMap<number, OsProcess>): boolean {
  for (let current: OsProcess | undefined = p, hops = 0; current && hops < 64; hops++) {
    if (current.pid === ancestor) return true;
    current = seen.get(current.ppid);
  }
  return false;
}

/** A descendant that is not a row (yet): too young, a launcher's helper, or found by its mark. */
interface Tracked {
  process: OsProcess;
  rootId: string;
  /** A launcher's helper: never a row. */
  hidden: boolean;
  /** Found by the launch's mark, not in the tree. */
  escaped: boolean;
}

/** What the poll knows of one launch beyond its rows. */
interface LaunchWatch {
  /** The launch runs Python: until the interpreter itself runs, what it spawns is the launcher's. */
  python: boolean;
  /** The pid of the Python program once known (the root's own pid after a shim exec'd the interpreter). */
  programPid: number | undefined;
  /** Polls since the tree was last walked whole (undefined: never yet). */
  pollsSinceWalk?: number;
}

/** The processes that appeared since the last poll, read when a tree first asks (once a poll). */
type FreshProcesses = () => Promise<ReadonlyMap<number, OsProcess>>;

export interface DiscoveryContext {
  readonly state: ProcessState;
  emit(event: ProcessEvent): void;
  log(level: 'debug' | 'info' | 'warning' | 'error', process: string, message: string): void;
  pollIntervalMs(): number;
  /** The supervisor's mark (the OWNER part of PROCSCOPE_OWNER). */
  readonly owner: string;
  readonly watchdog: WatchdogClient | undefined;
  /** Called after a launched tree was looked at (it may be over now). */
  afterPoll(rootId: string): void;
  /** A launched process's start stamp, read by the first poll of its tree (its row has none until then). */
  identified(rootId: string, startTime: number): void;
}

/** What the last poll read of a row's process: CPU time, and its name (which changes when it execs). */
interface LastLook {
  cpuMs: number;
  at: number;
  comm: string;
}

/** How long prompt polls may be put off by later requests (a burst of starts): the first start's own first poll. */
const MAX_POSTPONE_MS = 50;

export class Discovery {
  private timer: NodeJS.Timeout | undefined;
  /** When the pending poll was first asked to come soon (undefined: it was not). */
  private promptSince: number | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly tracked = new Map<number, Tracked>();
  /** New pids whose environment could not be read yet, and how many more polls may read it again. */
  private readonly unmarked = new Map<number, number>();
  private readonly watches = new Map<string, LaunchWatch>();
  private readonly lastLook = new Map<number, LastLook>();
  private readonly reading = new Set<string>();

  constructor(
    private readonly context: DiscoveryContext,
    private readonly source: ProcessSource | undefined,
  ) {
    this.source?.newPids?.(); // what runs before our first launch is nobody's: only later pids are looked at for marks
  }

  /** A launch to watch; `python` when it runs a Python program (then a shim's or wrapper's helpers are hidden). */
  watch(rootId: string, python: boolean): void {
    this.watches.set(rootId, { python, programPid: undefined });
  }

  /** The Python program of a launch, once known: its pid. */
  programPid(rootId: string): number | undefined {
    return this.watches.get(rootId)?.programPid;
  }

  /** The Python helper reported from `pid` of a launch whose program was not known: that pid is the program. */
  programReported(root: ReadonlyRow, pid: number, os?: OsProcess): ReadonlyRow | undefined {
    const watch = this.watches.get(root.id);
    if (!watch) return undefined;
    if (pid === root.pid) {
      watch.programPid = pid;
      return root;
    }
    if (watch.programPid !== undefined && watch.programPid !== pid) return undefined;
    const existing = this.context.state.liveByPid(pid);
    if (existing) {
      watch.programPid = pid;
      return existing.rootId === root.id ? existing : undefined;
    }
    const tracked = this.tracked.get(pid);
    this.tracked.delete(pid);
    watch.programPid = pid;
    const id = this.context.state.allocateId();
    this.context.emit({
      type: 'discovered', id, parentId: root.id, name: PROGRAM_NAME, at: Date.now(), pid, ppid: os?.ppid ?? tracked?.process.ppid ?? root.pid ?? 0,
      startTime: os?.startTime ?? (tracked && tracked.process.startTime !== -1 ? tracked.process.startTime : 0), command: os?.comm ?? tracked?.process.comm ?? root.command, args: [],
    });
    if (root.role !== 'launcher') this.context.emit({ type: 'role', id: root.id, role: 'launcher' });
    void this.readCommand(id, pid);
    return this.context.state.get(id);
  }

  /** A tracked process the Python helper reported: it becomes that row, so the poll stops tracking it. */
  claim(pid: number): OsProcess | undefined {
    const tracked = this.tracked.get(pid);
    this.tracked.delete(pid);
    return tracked && tracked.process.startTime !== -1 ? tracked.process : undefined;
  }

  /** Descendants of a launch that are tracked but are not rows (too young, helpers, escapees), for ending its tree. */
  trackedOf(rootId: string): OsProcess[] {
    const found: OsProcess[] = [];
    for (const t of this.tracked.values()) if (t.rootId === rootId && t.process.startTime !== -1) found.push(t.process);
    return found;
  }

  /** Does a launch still have live descendants that are not rows? */
  hasTracked(rootId: string): boolean {
    for (const t of this.tracked.values()) if (t.rootId === rootId) return true;
    return false;
  }

  /** Forget what is known of a launch (its tree has ended, or it is restarted). */
  forget(rootId: string): void {
    for (const [pid, t] of this.tracked) if (t.rootId === rootId) this.tracked.delete(pid);
    if (!this.context.state.get(rootId)?.alive) this.watches.delete(rootId);
  }

  /**
   * Polls after `delayMs`. A delay shorter than the poll interval asks for a prompt poll and replaces whatever is
   * pending: a burst of starts moves it on, each start's first poll coming after it, but never more than
   * MAX_POSTPONE_MS past the first prompt request (starts every few ms would otherwise keep every poll away).
   */
  schedule(delayMs = this.context.pollIntervalMs()): void {
    if (this.stopped) return;
    const prompt = delayMs < this.context.pollIntervalMs();
    if (this.timer) {
      if (!prompt) return;
      clearTimeout(this.timer);
    }
    const now = Date.now();
    if (prompt) this.promptSince ??= now;
    const wait = this.promptSince === undefined ? delayMs : Math.max(0, Math.min(delayMs, this.promptSince + MAX_POSTPONE_MS - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.promptSince = undefined;
      void this.poll().then(() => {
        if (this.anythingToWatch()) this.schedule();
      });
    }, wait);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Something lives, or a new process's environment is still to be read again (a few polls at most). */
  private anythingToWatch(): boolean {
    return this.context.state.liveCount > 0 || this.tracked.size > 0 || this.unmarked.size > 0;
  }

  /** One look at the OS: new descendants, ended ones, CPU, memory, ports. Looks run one after another. */
  poll(): Promise<void> {
    this.chain = this.chain.then(() => this.pollNow());
    return this.chain;
  }

  private async pollNow(): Promise<void> {
    const source = this.source;
    if (!source) return;
    source.refreshClock();
    const freshPids = source.newPids?.();
    this.findMarked(source, freshPids);
    let freshStats: Map<number, OsProcess> | undefined;
    const fresh: FreshProcesses | undefined = freshPids && (async () => {
      if (freshStats) return freshStats;
      freshStats = new Map();
      for (const pid of freshPids) {
        const p = await source.get(pid);
        if (p && !isDead(p)) freshStats.set(pid, p);
      }
      return freshStats;
    });
    for (const root of this.context.state.roots()) {
      if (root.kind !== 'launched') continue;
      if (!this.context.state.treeAlive(root.id) && !this.hasTracked(root.id)) continue;
      try {
        await this.pollTree(root, source, fresh);
      } catch (error) {
        this.context.log('error', MAIN_PROCESS, `polling ${root.name} failed: ${(error as Error).stack ?? error}`);
      }
      this.context.afterPoll(root.id);
    }
  }

  /** New processes carrying the mark of one of our launches (a setsid escapee, a group member whose leader is gone). */
  private findMarked(source: ProcessSource, fresh: readonly number[] | undefined): void {
    if (!fresh || !source.environValue) return;
    // A process caught in exec has no environment to read for a moment: such pids are read again at the next polls.
    const pids = [...fresh, ...this.unmarked.keys()];
    for (const pid of pids) {
      if (this.tracked.has(pid) || this.context.state.liveByPid(pid)) {
        this.unmarked.delete(pid);
        continue;
      }
      const mark = source.environValue(pid, OWNER_VARIABLE);
      if (mark === null) {
        const tries = this.unmarked.get(pid) ?? ENVIRON_RETRIES;
        if (tries > 1) this.unmarked.set(pid, tries - 1);
        else this.unmarked.delete(pid);
        continue;
      }
      this.unmarked.delete(pid);
      const rowId = markedRow(mark, this.context.owner);
      if (rowId === undefined) continue;
      const root = this.context.state.get(rowId);
      if (!root || root.kind !== 'launched' || root.pid === pid) continue;
      // Its identity is read with the tree's poll below; until then it is known by pid only.
      this.tracked.set(pid, { process: { pid, ppid: 0, pgid: -1, startTime: -1, state: 'S', comm: '', threads: 1, cpuMs: 0, rssBytes: 0 }, rootId: root.id, hidden: false, escaped: true });
    }
  }

  private async pollTree(root: ReadonlyRow, source: ProcessSource, fresh: FreshProcesses | undefined): Promise<void> {
    const state = this.context.state;
    const rows = [root, ...state.subtree(root.id)];
    const seen = new Map<number, OsProcess>();
    const watch = this.watches.get(root.id);
    const walkWhole = !fresh || !watch || watch.pollsSinceWalk === undefined || watch.pollsSinceWalk + 1 >= FULL_WALK_EVERY;
    if (watch) watch.pollsSinceWalk = walkWhole ? 0 : (watch.pollsSinceWalk ?? 0) + 1;
    const walk = async (pid: number) => {
      if (!walkWhole) return; // new descendants are found among the new pids below
      for (const p of await source.descendants(pid)) if (!isDead(p)) seen.set(p.pid, p);
    };
    // Walk from every live row whose parent row is over (the root, orphans), and from tracked processes in the same
    // spot; between full walks, every live row is read on its own.
    for (const row of rows) {
      if (!row.alive || row.pid === null) continue;
      const parent = row.parentId === null ? undefined : state.get(row.parentId);
      if (walkWhole && row !== root && parent?.alive) continue;
      const self = await source.get(row.pid);
      if (!sameProcess(self, row.startTime)) {
        if (row !== root) this.ended(row);
        continue;
      }
      // A live row is not reaped yet: its pid is still the process launched.
      if (row === root && !row.startTime) this.context.identified(root.id, self.startTime);
      seen.set(self.pid, self);
      await walk(self.pid);
    }
    // Found through the tree: whatever was taken for an escapee by its mark is in the tree after all.
    const inTree = new Set(seen.keys());
    for (const [pid, t] of [...this.tracked]) {
      if (t.rootId !== root.id || seen.has(pid)) continue;
      const self = await source.get(pid);
      if (!sameProcess(self, t.escaped && t.process.startTime === -1 ? undefined : t.process.startTime)) {
        this.tracked.delete(pid);
        continue;
      }
      // An escapee found by its mark is read here first: from now on the watchdog knows it too (it left our groups).
      if (t.escaped && t.process.startTime === -1) this.context.watchdog?.addProcess(pid, self.startTime);
      t.process = self;
      seen.set(pid, self);
      await walk(pid);
    }
    if (!walkWhole && fresh) {
      // What a walk would have found: the descendants tracked already, and new processes below the tree (among
      // them any that their mark made look like escapees).
      for (const [pid, t] of this.tracked) if (t.rootId === root.id && !t.escaped && seen.has(pid)) inTree.add(pid);
      this.adoptFresh(await fresh(), seen, inTree);
    }
    if (watch?.python && watch.programPid === undefined && root.alive && root.pid !== null && isPythonExecutable(await source.exe(root.pid))) {
      watch.programPid = root.pid; // the shim exec'd the interpreter: from now on, what the root spawns is the program's
    }
    const now = Date.now();
    const samples: Sample[] = [];
    for (const p of seen.values()) {
      let row = state.liveByPid(p.pid);
      if (row && row.rootId !== root.id) continue; // another launch's (one launch started by another)
      if (row && !sameProcess(p, row.startTime)) {
        this.ended(row); // the pid was reused by a new process
        row = undefined;
      }
      if (row) {
        if (row.startTime === undefined || row.startTime === 0) this.context.watchdog?.addProcess(p.pid, p.startTime);
        const sample = this.sample(row, p, now);
        if (sample) samples.push(sample);
        continue;
      }
      await this.consider(root, p, source, watch, inTree.has(p.pid), seen);
    }
    // Rows not seen: gone, unless a second look finds them (a walk can miss a process being reparented).
    for (const row of rows) {
      if (!row.alive || row === root || row.pid === null || seen.has(row.pid)) continue;
      if (!sameProcess(await source.get(row.pid), row.startTime)) this.ended(row);
    }
    for (const [pid, t] of this.tracked) if (t.rootId === root.id && !seen.has(pid)) this.tracked.delete(pid);
    this.samplePorts(root, seen, samples, source);
    if (samples.length > 0) this.context.emit({ type: 'sampled', samples });
    this.fold(root.id);
  }

  /** New processes whose parent is in the tree (or is itself such a new process) join it, parents before children. */
  private adoptFresh(fresh: ReadonlyMap<number, OsProcess>, seen: Map<number, OsProcess>, inTree: Set<number>): void {
    let pending = [...fresh.values()].filter((p) => !inTree.has(p.pid));
    for (let grew = true; grew && pending.length > 0;) {
      grew = false;
      const rest: OsProcess[] = [];
      for (const p of pending) {
        if (!seen.has(p.ppid)) {
          rest.push(p);
          continue;
        }
        seen.delete(p.pid); // after its parent, as a walk would list it
        seen.set(p.pid, p);
        if (inTree.has(p.ppid)) inTree.add(p.pid);
        grew = true;
      }
      pending = rest;
    }
  }

  /** A descendant that is not a row: track it, and make it a row once it is worth one. */
  private async consider(
    root: ReadonlyRow,
    p: OsProcess,
    source: ProcessSource,
    watch: LaunchWatch | undefined,
    inTree: boolean,
    seen: ReadonlyMap<number, OsProcess>,
  ): Promise<void> {
    const state = this.context.state;
    let tracked = this.tracked.get(p.pid);
    if (tracked && tracked.process.startTime !== -1 && tracked.process.startTime !== p.startTime) tracked = undefined;
    if (tracked?.escaped && inTree) tracked = undefined; // seen by its mark first, but it is in the tree: an ordinary descendant
    const parentTracked = this.tracked.get(p.ppid);
    if (!tracked) {
      // A launch of Python: before the program runs, whatever the launcher spawns is its helper; once a wrapper has
      // spawned the program, whatever else the wrapper runs is still the wrapper's.
      const helper = watch?.python === true
        && (watch.programPid === undefined || (watch.programPid !== root.pid && !descendsFrom(p, watch.programPid, seen)));
      tracked = { process: p, rootId: root.id, hidden: helper || parentTracked?.hidden === true, escaped: false };
      this.tracked.set(p.pid, tracked);
      this.context.watchdog?.addProcess(p.pid, p.startTime);
      if (helper && !parentTracked?.hidden && isPythonExecutable(await source.exe(p.pid))) {
        // A wrapper (uv run, poetry run) spawned the interpreter: that process is the program.
        this.tracked.delete(p.pid);
        this.programReported(root, p.pid, p);
        return;
      }
    }
    tracked.process = p;
    if (tracked.hidden) return;
    const age = source.ageMs(p);
    if (!tracked.escaped && age !== undefined && age < this.context.pollIntervalMs()) return;
    const parent = this.rowAncestor(root, p.ppid) ?? root;
    const argv = await source.cmdline(p.pid);
    if (!sameProcess(await source.get(p.pid), p.startTime)) return; // ended while we read it: it was never worth a row
    this.tracked.delete(p.pid);
    const id = state.allocateId();
    const command = argv[0] ?? p.comm;
    const args = argv.slice(1);
    const parentRow = state.get(parent.id) ?? root;
    const name = `${parentRow.name}:${parentRow.childCounter + 1}`;
    this.context.emit({
      type: 'discovered', id, parentId: parentRow.id, name, at: Date.now(),
      pid: p.pid, ppid: p.ppid, startTime: p.startTime, command, args, role: machineryRole(argv), escaped: tracked.escaped || undefined,
    });
    this.lastLook.set(p.pid, { cpuMs: p.cpuMs, at: Date.now(), comm: p.comm });
    this.context.log('debug', name, `discovered ${tracked.escaped ? 'escaped ' : ''}child process with pid ${p.pid} of ${parentRow.name}: ${formatCommandLine(command, args)}`);
  }

  /** The nearest live row above a pid: its parent's row, or the row of a tracked ancestor's parent, and so on. */
  private rowAncestor(root: ReadonlyRow, ppid: number): ReadonlyRow | undefined {
    const state = this.context.state;
    for (let pid = ppid, hops = 0; pid > 0 && hops < 64; hops++) {
      const row = state.liveByPid(pid);
      if (row) return row.rootId === root.id ? row : undefined;
      const tracked = this.tracked.get(pid);
      if (!tracked) return undefined;
      pid = tracked.process.ppid;
    }
    return undefined;
  }

  private ended(row: ReadonlyRow): void {
    this.context.emit({ type: 'exited', id: row.id, at: Date.now(), exitCode: null });
    this.lastLook.delete(row.pid as number);
    if (row.kind !== 'launched' && row.pid !== null) this.context.watchdog?.removeProcess(row.pid);
    if (row.kind === 'discovered') this.context.log('debug', row.name, `process with pid ${row.pid} has ended`);
  }

  private sample(row: ReadonlyRow, p: OsProcess, now: number): Sample | undefined {
    const last = this.lastLook.get(p.pid);
    this.lastLook.set(p.pid, { cpuMs: p.cpuMs, at: now, comm: p.comm });
    // A discovered row read while its process was between fork and exec (setsid, a shell's child) shows what it became.
    if (last && last.comm !== p.comm && row.kind === 'discovered') void this.readCommand(row.id, p.pid);
    const sample: Sample = { id: row.id, rssBytes: p.rssBytes };
    if (last && now > last.at) sample.cpuPercent = Math.round(Math.max(0, ((p.cpuMs - last.cpuMs) / (now - last.at)) * 100) * 10) / 10;
    if (sample.rssBytes === row.rssBytes && (sample.cpuPercent === undefined || sample.cpuPercent === row.cpuPercent)) return undefined;
    return sample;
  }

  /** The TCP ports each row's process, or any descendant that is not a row, listens on. */
  private samplePorts(root: ReadonlyRow, seen: Map<number, OsProcess>, samples: Sample[], source: ProcessSource): void {
    if (!source.listeningPorts) return;
    const byPid = source.listeningPorts(root.id, [...seen.keys()]);
    const state = this.context.state;
    const portsOf = new Map<string, Set<number>>();
    for (const [pid, ports] of byPid) {
      const row = state.liveByPid(pid) ?? this.rowAncestor(root, this.tracked.get(pid)?.process.ppid ?? 0) ?? root;
      const set = portsOf.get(row.id) ?? new Set<number>();
      for (const port of ports) set.add(port);
      portsOf.set(row.id, set);
    }
    // The launched row lists its whole tree's ports (SPEC §4: "a process or its descendants"); other rows their own.
    const tree = new Set<number>();
    for (const set of portsOf.values()) for (const port of set) tree.add(port);
    if (tree.size > 0) portsOf.set(root.id, tree);
    for (const row of [root, ...state.subtree(root.id)]) {
      if (!row.alive) continue;
      const ports = [...(portsOf.get(row.id) ?? [])].sort((a, b) => a - b);
      if (ports.length === 0 && row.ports === undefined) continue;
      if (row.ports && row.ports.length === ports.length && row.ports.every((port, i) => port === ports[i])) continue;
      const sample = samples.find((s) => s.id === row.id);
      if (sample) sample.ports = ports;
      else samples.push({ id: row.id, ports });
    }
  }

  /** Keeps at most ENDED_ROWS_KEPT ended discovered children per parent; the older ones are folded into `+N ended`. */
  private fold(rootId: string): void {
    const state = this.context.state;
    for (const parent of [state.get(rootId), ...state.subtree(rootId)]) {
      if (!parent || parent.childIds.length <= ENDED_ROWS_KEPT) continue;
      const ended = state.children(parent.id).filter((c) => c.kind === 'discovered' && !state.treeAlive(c.id));
      if (ended.length > ENDED_ROWS_KEPT) {
        this.context.emit({ type: 'folded', parentId: parent.id, ids: ended.slice(0, ended.length - ENDED_ROWS_KEPT).map((c) => c.id) });
      }
    }
  }

  /** Reads a row's argv (while the process lives: the OS forgets it after) and records it. */
  async readCommand(id: string, pid: number): Promise<void> {
    if (!this.source || this.reading.has(id)) return;
    this.reading.add(id);
    try {
      const argv = await this.source.cmdline(pid);
      const row = this.context.state.get(id);
      if (argv.length === 0 || !row || !row.alive || row.pid !== pid) return;
      this.context.emit({ type: 'command', id, command: argv[0], args: argv.slice(1) });
      // A multiprocessing.Process forked by the forkserver carries the forkserver's argv: it is still a Process.
      const role = row.kind === 'python' ? undefined : machineryRole(argv);
      if (role && row.role === undefined) this.context.emit({ type: 'role', id, role });
    } finally {
      this.reading.delete(id);
    }
  }

  dispose(): void {
    this.stop();
  }
}
