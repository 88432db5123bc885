// One interface over the platform's process table: /proc on Linux, `ps` on macOS and the BSDs.
import { execFile } from 'node:child_process';
import { isDead, type OsProcess } from './osProcess';
import * as procfs from './procfs';

/** What a walk of a tree needs to know of a process: who it is (pid + start stamp) and which group it is in. */
export interface TreeMember {
  pid: number;
  startTime: number;
  pgid: number;
  /** Thread count as last seen: the kernel lists children per thread. */
  threads: number;
}

export interface ProcessSource {
  /** The process `pid` now, or undefined. */
  get(pid: number): Promise<OsProcess | undefined>;
  /** Every live descendant of `pid` that can still be reached through parent links, nearest first. */
  descendants(pid: number): Promise<OsProcess[]>;
  /**
   * The live descendants of `pid`, nearest first, for ending the tree: processes in `known` (seen by a recent poll)
   * are taken from it instead of being read again, so the walk before a signal costs one read a process.
   */
  walk(pid: number, known: ReadonlyMap<number, TreeMember>): Promise<TreeMember[]>;
  /** The whole process table. */
  all(): Promise<Map<number, OsProcess>>;
  /** argv of `pid` (empty when unknown). */
  cmdline(pid: number): Promise<string[]>;
  /** The program `pid` runs, as a path where the platform tells (Linux), else its command name. */
  exe(pid: number): Promise<string | undefined>;
  /** Reads the clock that ageMs() measures against; call once before a round of ageMs(). */
  refreshClock(): void;
  /** How long `p` has been running, in ms, as of the last refreshClock(); undefined where unknown. */
  ageMs(p: OsProcess): number | undefined;
  /** Pids that appeared since the last call; undefined where the platform cannot tell cheaply. */
  newPids?(): number[];
  /** One variable of a process's environment; undefined when unset or not readable. */
  /** A variable of the process's environment; null when the environment cannot be read (yet: a process in exec). */
  environValue?(pid: number, name: string): string | null | undefined;
  /** TCP ports each of `pids` listens on (only pids with at least one are in the map). */
  listeningPorts?(tree: string, pids: readonly number[]): Map<number, number[]>;
}

/** Walks parent links in a full table: every process below `pid`, nearest first. */
export function descendantsIn(table: Map<number, OsProcess>, pid: number): OsProcess[] {
  const byParent = new Map<number, OsProcess[]>();
  for (const process of table.values()) {
    const siblings = byParent.get(process.ppid);
    if (siblings) siblings.push(process);
    else byParent.set(process.ppid, [process]);
  }
  const found: OsProcess[] = [];
  const queue = [pid];
  const seen = new Set<number>([pid]);
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift() as number) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** Linux: reads /proc; descendants come from the kernel's per-thread children lists, so the cost grows with the tree, not the machine. */
export class ProcfsSource implements ProcessSource {
  private readonly childrenFiles = procfs.hasChildrenFiles();

  async get(pid: number): Promise<OsProcess | undefined> {
    return procfs.readStat(pid);
  }

  async descendants(pid: number): Promise<OsProcess[]> {
    return this.descendantsSync(pid);
  }

  descendantsSync(pid: number): OsProcess[] {
    if (!this.childrenFiles) return descendantsIn(procfs.scanAll(), pid);
    return this.breadthFirst(pid, (p) => procfs.readStat(p));
  }

  async walk(pid: number, known: ReadonlyMap<number, TreeMember>): Promise<TreeMember[]> {
    if (!this.childrenFiles) return (await this.descendants(pid)).filter((p) => !isDead(p));
    return this.breadthFirst<TreeMember>(pid, (p) => {
      const member = known.get(p);
      if (member) return member;
      const stat = procfs.readStat(p);
      return stat && !isDead(stat) ? stat : undefined;
    });
  }

  /** Every process below `pid` that `describe` knows, nearest first, following the kernel's children lists. */
  private breadthFirst<T extends { pid: number; threads: number }>(pid: number, describe: (pid: number) => T | undefined): T[] {
    const root = describe(pid);
    if (!root) return [];
    const found: T[] = [];
    const queue: T[] = [root];
    const seen = new Set<number>([pid]);
    while (queue.length > 0) {
      for (const childPid of procfs.readChildren(queue.shift() as T)) {
        if (seen.has(childPid)) continue;
        seen.add(childPid);
        const child = describe(childPid);
        if (!child) continue;
        found.push(child);
        queue.push(child);
      }
    }
    return found;
  }

  async all(): Promise<Map<number, OsProcess>> {
    return procfs.scanAll();
  }

  async cmdline(pid: number): Promise<string[]> {
    return procfs.readCmdline(pid);
  }

  async exe(pid: number): Promise<string | undefined> {
    return procfs.readExe(pid);
  }

  private uptime: number | undefined;

  refreshClock(): void {
    this.uptime = procfs.uptimeTicks();
    this.ports.newPoll();
  }

  ageMs(p: OsProcess): number | undefined {
    return this.uptime === undefined ? undefined : procfs.ageMs(p.startTime, this.uptime);
  }

  private lastPids: Set<number> | undefined;

  newPids(): number[] {
    const now = procfs.listPids();
    const before = this.lastPids;
    this.lastPids = new Set(now);
    return before === undefined ? now : now.filter((pid) => !before.has(pid));
  }

  environValue(pid: number, name: string): string | null | undefined {
    return procfs.readEnvironValue(pid, name);
  }

  private readonly ports = new PortScanner();

  listeningPorts(tree: string, pids: readonly number[]): Map<number, number[]> {
    return this.ports.scan(tree, pids);
  }

  /** How many processes' fd lists the port scans have read so far (for tests and the benchmark). */
  get portFdReads(): number {
    return this.ports.fdReads;
  }

  /** How many times the TCP tables were read (for the benchmark). */
  get portTableReads(): number {
    return this.ports.tableReads;
  }
}

/**
 * Which listening TCP ports belong to which processes: /proc/net/tcp{,6} give the listening sockets by inode (read
 * once a poll), each process's fd links give the inodes it holds. A process's fds are read when it is new to us, and
 * again only when a listening socket appears that nobody we know holds; a socket that none of ours holds is remembered
 * as foreign. Each launched tree is scanned on its own, so the pids it forgets are only its own.
 */
/** How many polls in a row may reuse the TCP tables while the socket counts stay the same. */
const TABLES_REUSED_AT_MOST = 9;

class PortScanner {
  private readonly inodesByPid = new Map<number, number[]>();
  private readonly pidsByTree = new Map<string, Set<number>>();
  private readonly foreign = new Set<number>();
  private listeningNow: Map<number, number> | undefined;
  /** The last TCP tables read, the socket counts then, and how many polls reused them since. */
  private listeningLast: { sockets: Map<number, number>; counts: string; reused: number } | undefined;
  private readonly scannedThisPoll = new Set<string>();
  /** Sockets no tree of this poll explained so far: foreign unless a tree scanned later in the poll holds them. */
  private readonly unexplainedThisPoll = new Set<number>();
  fdReads = 0;
  tableReads = 0;

  /** The next scan reads the socket tables afresh; trees the last poll did not scan (they ended) are forgotten. */
  newPoll(): void {
    this.listeningNow = undefined;
    const owned = new Set<number>();
    for (const inodes of this.inodesByPid.values()) for (const inode of inodes) owned.add(inode);
    for (const inode of this.unexplainedThisPoll) if (!owned.has(inode)) this.foreign.add(inode);
    this.unexplainedThisPoll.clear();
    for (const [tree, pids] of this.pidsByTree) {
      if (this.scannedThisPoll.has(tree)) continue;
      for (const pid of pids) this.inodesByPid.delete(pid);
      this.pidsByTree.delete(tree);
    }
    this.scannedThisPoll.clear();
  }

  /**
   * The listening sockets: the TCP tables are read again when the socket counts changed since they were last read,
   * and at least every TABLES_REUSED_AT_MOST + 1 polls (a socket that appears as another closes leaves the counts as
   * they were).
   */
  private listeningSockets(): Map<number, number> {
    const counts = procfs.readSocketCounts();
    const last = this.listeningLast;
    if (last && last.counts === counts && last.reused < TABLES_REUSED_AT_MOST) {
      last.reused++;
      return last.sockets;
    }
    const sockets = procfs.readListeningSockets();
    this.listeningLast = { sockets, counts, reused: 0 };
    this.tableReads++;
    return sockets;
  }

  scan(tree: string, pids: readonly number[]): Map<number, number[]> {
    this.scannedThisPoll.add(tree);
    const result = new Map<number, number[]>();
    const wanted = new Set(pids);
    for (const pid of this.pidsByTree.get(tree) ?? []) if (!wanted.has(pid)) this.inodesByPid.delete(pid);
    if (wanted.size === 0) this.pidsByTree.delete(tree);
    else this.pidsByTree.set(tree, wanted);
    const listening = (this.listeningNow ??= this.listeningSockets());
    for (const inode of this.foreign) if (!listening.has(inode)) this.foreign.delete(inode);
    if (listening.size === 0) return result;
    const owned = new Set<number>();
    for (const inodes of this.inodesByPid.values()) for (const inode of inodes) owned.add(inode);
    const unexplained = [...listening.keys()].filter((inode) => !owned.has(inode) && !this.foreign.has(inode));
    for (const pid of pids) {
      if (unexplained.length > 0 || !this.inodesByPid.has(pid)) {
        this.inodesByPid.set(pid, procfs.readSocketInodes(pid));
        this.fdReads++;
      }
    }
    if (unexplained.length > 0) {
      const nowOwned = new Set<number>();
      for (const inodes of this.inodesByPid.values()) for (const inode of inodes) nowOwned.add(inode);
      for (const inode of unexplained) if (!nowOwned.has(inode)) this.unexplainedThisPoll.add(inode);
    }
    for (const pid of pids) {
      const ports = (this.inodesByPid.get(pid) ?? []).map((inode) => listening.get(inode)).filter((port): port is number => port !== undefined);
      if (ports.length > 0) result.set(pid, [...new Set(ports)].sort((a, b) => a - b));
    }
    return result;
  }
}

const PS_FIELDS = 'pid=,ppid=,pgid=,state=,rss=,time=,lstart=,comm=';

/** Parses `ps -axo pid=,ppid=,pgid=,state=,rss=,time=,lstart=,comm=` output (lstart is always 24 characters). */
export function parsePs(output: string): Map<number, OsProcess> {
  const table = new Map<number, OsProcess>();
  for (const line of output.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\w{3} \w{3}\s+\d+ [\d:]+ \d{4})\s+(.*)$/.exec(line);
    if (!match) continue;
    const [, pid, ppid, pgid, state, rss, time, lstart, comm] = match;
    table.set(Number(pid), {
      pid: Number(pid),
      ppid: Number(ppid),
      pgid: Number(pgid),
      state: state[0],
      rssBytes: Number(rss) * 1024,
      cpuMs: parseCpuTime(time),
      startTime: Date.parse(lstart) || 0,
      comm: comm.trim().split('/').pop() ?? comm,
      threads: 1,
    });
  }
  return table;
}

/** `[[dd-]hh:]mm:ss[.cc]` as ps prints cumulative CPU time, in milliseconds. */
export function parseCpuTime(text: string): number {
  const [days, rest] = text.includes('-') ? text.split('-') : ['0', text];
  const parts = rest.split(':').map(Number);
  while (parts.length < 3) parts.unshift(0);
  const [h, m, s] = parts;
  return (((Number(days) * 24 + h) * 60 + m) * 60 + s) * 1000;
}

/** macOS and the BSDs: one `ps` run per question (VS Code's own process explorer does the same). */
export class PsSource implements ProcessSource {
  async all(): Promise<Map<number, OsProcess>> {
    const output = await new Promise<string>((resolve) => {
      execFile('ps', ['-axo', PS_FIELDS], { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (_error, stdout) =>
        resolve(stdout ?? ''),
      );
    });
    return parsePs(output);
  }

  async get(pid: number): Promise<OsProcess | undefined> {
    return (await this.all()).get(pid);
  }

  async descendants(pid: number): Promise<OsProcess[]> {
    return descendantsIn(await this.all(), pid).filter((p) => !isDead(p));
  }

  async walk(pid: number): Promise<TreeMember[]> {
    return this.descendants(pid);
  }

  async cmdline(pid: number): Promise<string[]> {
    return new Promise((resolve) => {
      execFile('ps', ['-o', 'command=', '-p', String(pid)], (_error, stdout) => resolve((stdout ?? '').trim().split(/\s+/).filter(Boolean)));
    });
  }

  async exe(pid: number): Promise<string | undefined> {
    return (await this.get(pid))?.comm;
  }

  private clock = Date.now();

  refreshClock(): void {
    this.clock = Date.now();
  }

  /** lstart is wall-clock time to the second. */
  ageMs(p: OsProcess): number | undefined {
    return p.startTime > 0 ? Math.max(0, this.clock - p.startTime) : undefined;
  }
}

/** The best source this platform has, or undefined where descendants cannot be listed (Windows). */
export function createProcessSource(platform: NodeJS.Platform = process.platform): ProcessSource | undefined {
  if (platform === 'linux' && procfs.hasProcfs()) return new ProcfsSource();
  if (platform === 'win32') return undefined;
  return new PsSource();
}
