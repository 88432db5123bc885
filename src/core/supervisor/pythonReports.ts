// What the Python helper reports, turned into events: multiprocessing children with their real names, daemon flags,
// exit codes and logical parents, and the records of multiprocessing's logger. Also the launch side: the environment
// that loads the helper, and knowing when a finished program's last reports are in.
import type { SyncMessage } from '../instrument/protocol';
import { endedInWords } from '../status';
import { InstrumentServer } from '../instrument/server';
import { pythonEnv } from '../instrument/pythonEnv';
import type { ProcessEvent } from '../model/events';
import type { ReadonlyRow } from '../model/row';
import type { ProcessState } from '../model/state';
import { sameProcess } from '../os/identity';
import type { ProcessSource } from '../os/processSource';
import type { ProcessRole } from '../types';
import type { Discovery } from './discovery';

/** How long, after a Python program's tree has ended, its last reports may still be in flight. */
const LAST_REPORTS_MS = 1000;
/** First poll after a report, so the child's own children are seen soon. */
const POLL_AFTER_REPORT_MS = 50;
/** How far apart the helper's clock (a report's `time`) and ours may be taken to be. */
const CLOCK_SLACK_MS = 1000;

/** multiprocessing's machinery, by the names it gives its processes. */
export function roleOfName(name: string): ProcessRole | undefined {
  if (/PoolWorker-\d+$/.test(name)) return 'pool-worker';
  if (/^(?:Sync)?Manager-\d+$/.test(name)) return 'manager';
  return undefined;
}

export interface PythonContext {
  readonly state: ProcessState;
  emit(event: ProcessEvent): void;
  warn(message: string): void;
  debug(process: string, message: string): void;
  error(process: string, message: string): void;
  /** The level records are forwarded at (procscope.logLevel; 0 forwards none). */
  level(): number;
  readonly discovery: Discovery;
  readonly source: ProcessSource | undefined;
  /** A report on a synchronisation object (see syncGraph.ts). */
  sync?(report: SyncMessage): void;
}

interface StartReport {
  pid: number;
  ppid: number;
  name: string;
  daemon: boolean;
  method: string;
  time: number;
  role?: ProcessRole;
}

export class PythonReports {
  private server: InstrumentServer | undefined;
  /** Reports of one launch are handled one after another, in the order they arrived. */
  private readonly chains = new Map<string, Promise<void>>();

  /** @param helperDir the folder holding sitecustomize.py (dist/python) */
  constructor(
    private readonly context: PythonContext,
    private readonly helperDir: string,
  ) {}

  /** The socket server, created with the first Python launch. */
  private ensureServer(): InstrumentServer {
    if (this.server) return this.server;
    const server = new InstrumentServer({ level: this.context.level() });
    server.onDidStart((e) => this.enqueue(e.launchId, () => this.started(e.launchId, e)));
    server.onDidExit((e) => this.enqueue(e.launchId, async () => this.exited(e.launchId, e.pid, e.code)));
    server.onDidLog((e) => this.enqueue(e.launchId, async () => this.record(e.launchId, e.level, e.processName, e.message)));
    server.onDidSync((e) => this.enqueue(e.launchId, async () => this.context.sync?.(e)));
    server.onWarning((message) => this.context.warn(`instrumentation: ${message}`));
    this.server = server;
    return server;
  }

  private enqueue(launchId: string, work: () => Promise<void>): void {
    const next = (this.chains.get(launchId) ?? Promise.resolve()).then(work).catch((error) => {
      this.context.warn(`instrumentation: handling a report failed: ${(error as Error).message}`);
    });
    this.chains.set(launchId, next);
    void next.then(() => {
      if (this.chains.get(launchId) === next) this.chains.delete(launchId);
    });
  }

  /** Applies a new procscope.logLevel to records still arriving. */
  setLevel(level: number): void {
    this.server?.setLevel(level);
  }

  /** The environment that loads the helper for launch `launchId`, built on `env`; undefined if it cannot listen. */
  prepare(launchId: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined {
    let serverEnv;
    try {
      serverEnv = this.ensureServer().register(launchId);
    } catch (error) {
      this.context.warn(`instrumentation unavailable, running without it: ${(error as Error).message}`);
      return undefined;
    }
    this.server?.setLevel(this.context.level());
    return pythonEnv(this.helperDir, serverEnv, this.context.level(), env);
  }

  /** Resolves once the reports a just-ended launch sent are all in and handled (or a short time has passed). */
  async settled(launchId: string): Promise<void> {
    await this.server?.whenIdle(launchId, LAST_REPORTS_MS);
    await this.chains.get(launchId);
  }

  /** No more connections for this launch (once those still open are done). */
  release(launchId: string): void {
    const server = this.server;
    if (!server) return;
    void server.whenIdle(launchId, LAST_REPORTS_MS).finally(() => server.unregister(launchId));
  }

  private liveIn(root: ReadonlyRow, pid: number): ReadonlyRow | undefined {
    const row = this.context.state.liveByPid(pid);
    return row && row.rootId === root.id ? row : undefined;
  }

  /**
   * The row of the process that was `pid` at `at` (ms): a live row, or one that ended since (a child's own report may be
   * read after its parent's report of its exit when they come over different connections: spawn, forkserver, macOS).
   */
  private rowAt(root: ReadonlyRow, pid: number, at: number): ReadonlyRow | undefined {
    const live = this.liveIn(root, pid);
    if (live) return live;
    let found: ReadonlyRow | undefined;
    for (const row of this.context.state.subtree(root.id)) {
      if (row.pid !== pid || row.endedAt === null || row.endedAt < at - CLOCK_SLACK_MS || row.startedAt > at + CLOCK_SLACK_MS) continue;
      if (!found || row.startedAt > found.startedAt) found = row;
    }
    return found;
  }

  /** The row a report's sender stands for: a known row, else (before the program is known) the program itself. */
  private async senderRow(root: ReadonlyRow, pid: number, at: number): Promise<ReadonlyRow | undefined> {
    const known = this.rowAt(root, pid, at);
    if (known) return known;
    const discovery = this.context.discovery;
    if (discovery.programPid(root.id) !== undefined) return undefined;
    // A sender whose OS parent is not one of the program's processes is the program: a launcher started it.
    const os = await this.context.source?.get(pid);
    const parent = os ? this.liveIn(root, os.ppid) : undefined;
    if (parent && parent.kind === 'python') return undefined;
    return discovery.programReported(root, pid, os);
  }

  /** A multiprocessing.Process was started by a process of launch `launchId`. */
  private async started(launchId: string, report: StartReport): Promise<void> {
    const state = this.context.state;
    const root = state.get(launchId);
    if (!root) return;
    // Nest by the reported parent (the process that called start()): for forkserver children the OS parent differs.
    const parent = (await this.senderRow(root, report.ppid, report.time || Date.now())) ?? root;
    const existing = this.liveIn(root, report.pid);
    if (existing === root) return;
    const tracked = this.context.discovery.claim(report.pid);
    let startTime = existing?.startTime ?? tracked?.startTime;
    let osParentPid = tracked?.ppid;
    if (startTime === undefined || osParentPid === undefined) {
      const os = await this.context.source?.get(report.pid);
      if (sameProcess(os, startTime)) {
        startTime = os.startTime;
        osParentPid = os.ppid;
      }
    }
    const id = existing?.id ?? state.allocateId();
    this.context.emit({
      type: 'pythonStarted', id, parentId: parent.id, name: report.name, at: report.time || Date.now(), pid: report.pid, ppid: report.ppid,
      daemon: report.daemon, method: report.method, startTime, role: report.role ?? roleOfName(report.name),
      osParentPid: osParentPid !== undefined && osParentPid !== report.ppid ? osParentPid : undefined,
    });
    this.context.debug(report.name, `${report.daemon ? 'daemon ' : ''}process started by ${parent.name} with pid ${report.pid} (${report.method})`);
    // Children reported before their parent was: move them under it.
    for (const orphan of state.children(parent.id)) {
      if (orphan.id !== id && orphan.ppid === report.pid && orphan.kind !== 'launched') this.context.emit({ type: 'moved', id: orphan.id, parentId: id });
    }
    if (startTime === undefined && this.context.source) {
      // Already over by the time we looked: it shows as ended until its exit code comes.
      this.context.emit({ type: 'exited', id, at: Date.now(), exitCode: null });
    } else {
      void this.context.discovery.readCommand(id, report.pid);
    }
    this.context.discovery.schedule(POLL_AFTER_REPORT_MS);
  }

  /** The parent observed a multiprocessing child's exit code. */
  private exited(launchId: string, pid: number, code: number): void {
    const state = this.context.state;
    if (!state.get(launchId)) return;
    const candidates = state.subtree(launchId).filter((row) => row.pid === pid && row.kind === 'python');
    const row = candidates.find((r) => r.alive) ?? [...candidates].reverse().find((r) => r.exitCode === null);
    if (!row) return;
    this.context.emit({ type: 'exited', id: row.id, at: Date.now(), exitCode: code });
    // A pool's worker does not end by itself (Pool.terminate() ends them with SIGTERM): one that dies breaks its pool.
    if (row.role === 'pool-worker' && code !== 0 && code !== -15) {
      this.context.error(row.name, `pool worker ${endedInWords(code)}: its pool cannot go on (a ProcessPoolExecutor raises BrokenProcessPool)`);
    }
  }

  /** A record of multiprocessing's own logger, shown as log_to_stderr() prints it, after the launched program's name. */
  private record(launchId: string, level: number, processName: string, message: string): void {
    const root = this.context.state.get(launchId);
    if (root) this.context.emit({ type: 'record', level, process: processName, message, source: root.name });
  }

  dispose(): void {
    this.server?.dispose();
    this.server = undefined;
  }
}
