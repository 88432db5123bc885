// The process model: every process ProcScope started, reported or discovered, and what can be done to them.
import { homedir } from 'node:os';
import { Entry } from './entry';
import { Emitter } from './event';
import { formatCommandLine } from './commandLine';
import { signalTree, waitGone, type ProcessIdentity, type TreeRoot } from './kill/killTree';
import { launchEnvironment, spawnProcess } from './launcher';
import { LEVELS } from './levels';
import { Logger, MAIN_PROCESS } from './logger';
import { isDead, type OsProcess } from './os/osProcess';
import type { ProcessSource } from './os/processSource';
import { OutputBuffer, STDERR, STDOUT, type StreamId } from './output/outputBuffer';
import { exitCodeOf } from './signals';
import { formatSeconds } from './status';
import type { ProcessSnapshot } from './types';
import { describeValue, validateSpec, validateTimeout, type ValidSpec } from './validate';
import type { WatchdogClient } from './watchdog/client';

export interface TableSettings {
  /** How long terminate() waits after SIGTERM before SIGKILL. */
  killTimeoutMs: number;
  /** How long shutdown joins non-daemon processes before terminating them. */
  shutdownJoinTimeoutMs: number;
  /** How often descendants, CPU and memory are polled while anything is alive. */
  pollIntervalMs: number;
  /** Cap on each process's kept output. */
  outputBufferBytes: number;
  /** How long the row of a discovered process that ended under a live parent stays in the table. */
  transientRowMs: number;
}

export const DEFAULT_SETTINGS: TableSettings = {
  killTimeoutMs: 3000,
  shutdownJoinTimeoutMs: 1500,
  pollIntervalMs: 1000,
  outputBufferBytes: 1024 * 1024,
  transientRowMs: 5000,
};

/** Python instrumentation, as the table sees it: environment for a launch, released when the launch ends. */
export interface Instrumentation {
  prepare(launchId: string, spec: ValidSpec): Record<string, string> | undefined;
  /** Resolves once the reports a just-ended launch sent are all in (or a short time has passed). */
  settled(launchId: string): Promise<void>;
  release(launchId: string): void;
}

export interface OutputEvent {
  id: string;
  stream: StreamId;
  /** Whole lines, each ending with a newline. */
  lines: Buffer;
}

export interface PythonStart {
  pid: number;
  ppid: number;
  name: string;
  daemon: boolean;
  method?: string;
  time?: number;
}

export interface TableOptions {
  source: ProcessSource | undefined;
  logger: Logger;
  settings?: () => TableSettings;
  watchdog?: WatchdogClient;
  instrumentation?: Instrumentation;
  /** Where a spec without cwd runs (the first workspace folder, in the extension). */
  defaultCwd?: () => string;
}

/** After exit, how long to wait for the pipes to drain when a descendant keeps them open. */
const OUTPUT_GRACE_MS = 200;
/** Kill escalation during shutdown: SIGKILL at most this long after SIGTERM. */
const SHUTDOWN_KILL_AFTER_MS = 1000;
/** First descendant scan after a launch, so short-lived children are seen too. */
const FIRST_POLL_MS = 50;

export class ProcessTable {
  private readonly entries = new Map<string, Entry>();
  /** Live entries by pid: what a pid seen in the OS table or a report refers to. */
  private readonly live = new Map<number, Entry>();
  private idCounter = 0;
  private nameCounter = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollChain: Promise<void> = Promise.resolve();
  private disposed = false;
  private readonly pendingChanges = new Set<string>();
  /** Trees being ended now: their exits need no poll of their own, endTree accounts for every process it signalled. */
  private readonly ending = new Set<Entry>();
  private flushScheduled = false;
  private readonly changeEmitter = new Emitter<ReadonlySet<string>>();
  private readonly outputEmitter = new Emitter<OutputEvent>();
  /**
   * Fires (batched per tick) with the ids whose row changed; a new or removed row puts its parent's id in
   * the set, or '' when the top level changed.
   */
  readonly onDidChange = this.changeEmitter.event;
  /** Whole lines of output as they arrive. */
  readonly onOutput = this.outputEmitter.event;
  private readonly source: ProcessSource | undefined;
  private readonly logger: Logger;
  private readonly settings: () => TableSettings;

  constructor(private readonly options: TableOptions) {
    this.source = options.source;
    this.logger = options.logger;
    this.settings = options.settings ?? (() => DEFAULT_SETTINGS);
  }

  // ---- reading ----

  /** Every known process, in start order. */
  processes(): ProcessSnapshot[] {
    return [...this.entries.values()].map((e) => e.snapshot());
  }

  get(id: string): ProcessSnapshot | undefined {
    return this.entries.get(id)?.snapshot();
  }

  /** The entry itself, for adapters that show more than a snapshot (CPU, memory, output). */
  entry(id: string): Entry | undefined {
    return this.entries.get(id);
  }

  children(parentId: string | undefined): Entry[] {
    if (parentId === undefined) return [...this.entries.values()].filter((e) => e.parentId === null);
    const parent = this.entries.get(parentId);
    return parent ? parent.childIds.map((id) => this.entries.get(id)).filter((e): e is Entry => e !== undefined) : [];
  }

  /** Captured stdout and stderr of a launched process (bounded); empty for others. */
  output(id: string): string {
    return this.require(id).launch?.output.text() ?? '';
  }

  get liveCount(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.alive) count++;
    return count;
  }

  private require(id: unknown): Entry {
    const entry = typeof id === 'string' ? this.entries.get(id) : undefined;
    if (!entry) throw new Error(`No process with id ${describeValue(id)}`);
    return entry;
  }

  // ---- starting ----

  /** Starts a process; rejects with a clear Error on bad input, leaving nothing behind. */
  async start(input: unknown): Promise<ProcessSnapshot> {
    if (this.disposed) throw new Error('ProcScope is shutting down: no new processes can be started');
    let spec: ValidSpec;
    try {
      spec = validateSpec(input);
    } catch (error) {
      this.logger.error(MAIN_PROCESS, `cannot start process: ${(error as Error).message}`);
      throw error;
    }
    return this.launch(spec, spec.name, true);
  }

  /** `countsName`: like multiprocessing, every new process advances the Process-N counter, named or not. */
  private async launch(spec: ValidSpec, name: string | undefined, countsName: boolean): Promise<ProcessSnapshot> {
    const id = `p${++this.idCounter}`;
    const cwd = spec.cwd ?? this.options.defaultCwd?.() ?? homedir();
    let extraEnv: Record<string, string> | undefined;
    let spawned;
    try {
      extraEnv = this.options.instrumentation?.prepare(id, spec);
      spawned = await spawnProcess(spec, cwd, launchEnvironment(spec, extraEnv));
    } catch (error) {
      if (extraEnv) this.options.instrumentation?.release(id);
      this.logger.error(MAIN_PROCESS, `cannot start process: ${(error as Error).message}`);
      throw error;
    }
    const { child, pid } = spawned;
    const os = this.source ? await this.source.get(pid) : undefined;
    const startTime = os?.startTime ?? 0;
    if (countsName) this.nameCounter++;
    const entry = new Entry(id, name ?? `Process-${this.nameCounter}`, 'launched', id, Date.now());
    const output = new OutputBuffer(this.settings().outputBufferBytes);
    const commandLine = spec.shell ? [spec.command, ...spec.args].join(' ') : formatCommandLine(spec.command, spec.args);
    let settle!: () => void;
    const streamsSettled = new Promise<void>((resolve) => (settle = resolve));
    let exited!: () => void;
    const exitSeen = new Promise<void>((resolve) => (exited = resolve));
    const instrumentation = this.options.instrumentation;
    // Output is complete once the pipes are drained and, for a Python program, its last reports are in.
    const outputSettled = extraEnv && instrumentation
      ? Promise.all([streamsSettled, exitSeen.then(() => instrumentation.settled(id))]).then(() => undefined)
      : streamsSettled;
    entry.launch = { child, spec, output, commandLine, outputSettled, startTime, instrumented: extraEnv !== undefined };
    Object.assign(entry, { pid, ppid: process.pid, daemon: spec.daemon, alive: true, command: spec.command, args: spec.args, cwd, startTime });
    this.entries.set(id, entry);
    this.live.set(pid, entry);
    this.options.watchdog?.addGroup(pid, pid, startTime);

    const onData = (stream: StreamId) => (chunk: Buffer) => {
      const lines = output.append(stream, chunk);
      if (lines && this.outputEmitter.hasListeners) this.outputEmitter.fire({ id, stream, lines });
    };
    child.stdout?.on('data', onData(STDOUT));
    child.stderr?.on('data', onData(STDERR));
    const endStream = (stream: StreamId) => () => {
      const line = output.end(stream);
      if (line && this.outputEmitter.hasListeners) this.outputEmitter.fire({ id, stream, lines: line });
    };
    child.stdout?.on('end', endStream(STDOUT));
    child.stderr?.on('end', endStream(STDERR));
    child.on('close', () => settle());
    child.on('exit', (code, signal) => {
      setTimeout(settle, OUTPUT_GRACE_MS).unref?.();
      exited();
      const exitCode = exitCodeOf(code, signal);
      this.end(entry, exitCode);
      this.logger.info(entry.name, `process exiting with exitcode ${exitCode}`);
      this.changed(id);
      this.forgetIfDone(entry);
      if (!this.ending.has(entry)) this.schedulePoll(0);
    });

    this.logger.info(entry.name, `process started with pid ${pid}: ${commandLine}`);
    this.changed('');
    this.schedulePoll(FIRST_POLL_MS);
    return entry.snapshot();
  }

  /** Starts the same spec again under the same name, after ending the old process; the old row is replaced. */
  async restart(id: string): Promise<ProcessSnapshot> {
    const entry = this.require(id);
    if (!entry.launch) throw new Error(`Only launched processes can be restarted: ${entry.name} was ${entry.kind}`);
    if (this.treeAlive(entry)) await this.terminate(id);
    this.logger.info(entry.name, 'restarting');
    const snapshot = await this.launch(entry.launch.spec, entry.name, false);
    this.remove(entry);
    return snapshot;
  }

  // ---- waiting and ending ----

  /** Waits until the process exits or `timeoutMs` passes (not an error: the snapshot then shows it alive). */
  async join(id: string, timeoutMs?: number): Promise<ProcessSnapshot> {
    const entry = this.require(id);
    const timeout = validateTimeout(timeoutMs);
    this.logger.debug(MAIN_PROCESS, `joining ${entry.name}${timeout === undefined ? '' : ` with timeout ${formatSeconds(timeout)}`}`);
    if (entry.alive) {
      if (timeout === undefined) {
        await entry.ended;
      } else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([entry.ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))]);
        clearTimeout(timer);
      }
    }
    if (!entry.alive) {
      await entry.launch?.outputSettled;
      this.logger.debug(MAIN_PROCESS, `${entry.name} joined: ${entry.status}`);
    } else {
      this.logger.debug(MAIN_PROCESS, `${entry.name} is still alive after join timeout`);
    }
    return entry.snapshot();
  }

  /** SIGTERM to the process and its descendants; SIGKILL to whatever survives killTimeoutMs. Resolves when all are gone. */
  async terminate(id: string, killAfterMs = this.settings().killTimeoutMs): Promise<ProcessSnapshot> {
    const entry = this.require(id);
    await this.endTree(entry, 'SIGTERM', killAfterMs);
    return entry.snapshot();
  }

  /** SIGKILL to the process and its descendants. Resolves when all are gone. */
  async kill(id: string): Promise<ProcessSnapshot> {
    const entry = this.require(id);
    await this.endTree(entry, 'SIGKILL', 0);
    return entry.snapshot();
  }

  /** Is this entry or anything below it still running? */
  private treeAlive(entry: Entry): boolean {
    return entry.alive || entry.childIds.some((childId) => {
      const child = this.entries.get(childId);
      return child !== undefined && this.treeAlive(child);
    });
  }

  private subtree(entry: Entry): Entry[] {
    const found: Entry[] = [];
    const stack = [...entry.childIds];
    while (stack.length > 0) {
      const child = this.entries.get(stack.pop() as string);
      if (!child) continue;
      found.push(child);
      stack.push(...child.childIds);
    }
    return found;
  }

  private async endTree(entry: Entry, signal: 'SIGTERM' | 'SIGKILL', killAfterMs: number): Promise<void> {
    if (!this.treeAlive(entry)) return; // like multiprocessing: ending a finished process is a no-op
    this.ending.add(entry);
    try {
      await this.signalAndWait(entry, signal, killAfterMs);
    } finally {
      this.ending.delete(entry);
    }
  }

  private async signalAndWait(entry: Entry, signal: 'SIGTERM' | 'SIGKILL', killAfterMs: number): Promise<void> {
    const known = [entry, ...this.subtree(entry)]
      .filter((e) => e.alive && e.pid !== null && e.startTime !== undefined)
      .map((e) => ({ pid: e.pid as number, startTime: e.startTime as number, pgid: e.pgid, threads: e.threads }));
    const root = this.treeRoot(entry);
    const targets = await signalTree(this.source, root, known, signal);
    let signalled = targets;
    const description = `${targets.length} process${targets.length === 1 ? '' : 'es'}`;
    this.logger.info(entry.name, `sending ${signal} to ${description}${entry.pid !== null ? ` (pid ${entry.pid} and its descendants)` : ''}`);
    let survivors = await this.waitForTree(entry, targets, signal === 'SIGKILL' ? 5000 : killAfterMs);
    if (survivors.length > 0 && signal === 'SIGTERM') {
      this.logger.warning(entry.name, `${survivors.length} process${survivors.length === 1 ? '' : 'es'} still alive ${killAfterMs} ms after SIGTERM: sending SIGKILL`);
      const more = await signalTree(this.source, this.treeRoot(entry), [...known, ...survivors], 'SIGKILL');
      signalled = [...targets, ...more];
      survivors = await this.waitForTree(entry, [...survivors, ...more], 5000);
    }
    if (survivors.length > 0) {
      this.logger.error(entry.name, `${survivors.length} process${survivors.length === 1 ? '' : 'es'} could not be ended: ${survivors.map((s) => s.pid).join(', ')}`);
    }
    // What was signalled and is not among the survivors is verified gone (pid and start stamp): mark it so, so that the
    // poll below reads nothing twice (while a big tree dies, reading it again costs as much as the rest of terminate).
    const left = new Set(survivors.map((s) => s.pid));
    const gone = new Map(signalled.filter((t) => !left.has(t.pid)).map((t) => [t.pid, t.startTime]));
    for (const e of this.subtree(entry)) {
      if (e.alive && e.pid !== null && e.startTime !== undefined && gone.get(e.pid) === e.startTime) this.end(e, null);
    }
    await this.poll();
  }

  private treeRoot(entry: Entry): TreeRoot {
    const child = entry.launch?.child;
    const leaderAlive = child !== undefined ? child.exitCode === null && child.signalCode === null : entry.alive;
    return {
      pid: entry.pid ?? -1,
      startTime: entry.startTime ?? 0,
      pgid: entry.launch && process.platform !== 'win32' ? (entry.pid as number) : undefined,
      leaderAlive: leaderAlive && entry.pid !== null,
    };
  }

  /** Waits for the signalled processes to be gone and, for a launched process, for its exit to be reaped. */
  private async waitForTree(entry: Entry, targets: ProcessIdentity[], timeoutMs: number): Promise<ProcessIdentity[]> {
    const deadline = Date.now() + timeoutMs;
    const survivors = await waitGone(this.source, targets, timeoutMs);
    if (survivors.length === 0 && entry.launch && entry.alive) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([entry.ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(50, deadline - Date.now()))))]);
      clearTimeout(timer);
      if (entry.alive) return [{ pid: entry.pid as number, startTime: entry.startTime ?? 0 }];
    }
    return survivors;
  }

  /** Ends everything, daemons first, the way multiprocessing's exit handler ends a program's children. */
  async stopAll(killAfterMs = this.settings().killTimeoutMs): Promise<ProcessSnapshot[]> {
    const roots = this.roots().filter((e) => this.treeAlive(e));
    const daemons = roots.filter((e) => e.daemon);
    for (const daemon of daemons) this.logger.info(MAIN_PROCESS, `calling terminate() for daemon ${daemon.name}`);
    await Promise.all(daemons.map((e) => this.endTree(e, 'SIGTERM', killAfterMs)));
    await Promise.all(roots.filter((e) => !e.daemon).map((e) => this.endTree(e, 'SIGTERM', killAfterMs)));
    return roots.map((e) => e.snapshot());
  }

  /**
   * What deactivate runs: terminate daemons, join the rest for shutdownJoinTimeoutMs, terminate what is left and
   * SIGKILL it at most a second later. Whatever this does not finish, the watchdog does.
   */
  async shutdown(): Promise<void> {
    this.disposed = true;
    const roots = this.roots().filter((e) => this.treeAlive(e));
    const daemons = roots.filter((e) => e.daemon && e.alive);
    for (const daemon of daemons) this.logger.info(MAIN_PROCESS, `calling terminate() for daemon ${daemon.name}`);
    const ending = daemons.map((e) => this.endTree(e, 'SIGTERM', SHUTDOWN_KILL_AFTER_MS));
    const joinDeadline = Date.now() + this.settings().shutdownJoinTimeoutMs;
    const others = roots.filter((e) => !daemons.includes(e));
    for (const e of others) if (e.alive) this.logger.info(MAIN_PROCESS, `calling join() for process ${e.name}`);
    await Promise.all(
      others.map(async (e) => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([e.ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, joinDeadline - Date.now()))))]);
        clearTimeout(timer);
        await this.endTree(e, 'SIGTERM', SHUTDOWN_KILL_AFTER_MS);
      }),
    );
    await Promise.all(ending);
    this.stopPolling();
    this.options.watchdog?.close();
  }

  private roots(): Entry[] {
    return [...this.entries.values()].filter((e) => e.parentId === null);
  }

  // ---- removing ----

  /** Removes every finished process whose whole tree has finished; returns the ids removed. */
  clearExited(): string[] {
    const removed: string[] = [];
    for (const entry of [...this.entries.values()]) {
      if (!this.entries.has(entry.id) || this.treeAlive(entry)) continue;
      const parent = entry.parentId === null ? undefined : this.entries.get(entry.parentId);
      if (parent && !this.treeAlive(parent)) continue; // removed with its parent
      removed.push(entry.id, ...this.subtree(entry).map((e) => e.id));
      this.remove(entry);
    }
    return removed;
  }

  private remove(entry: Entry): void {
    for (const e of [entry, ...this.subtree(entry)]) this.entries.delete(e.id);
    const parent = entry.parentId === null ? undefined : this.entries.get(entry.parentId);
    if (parent) parent.childIds.splice(parent.childIds.indexOf(entry.id), 1);
    this.changed(parent ? parent.id : '');
  }

  // ---- discovery ----

  private schedulePoll(delayMs = this.settings().pollIntervalMs): void {
    if (this.disposed && delayMs !== 0) return;
    if (this.pollTimer) {
      if (delayMs >= this.settings().pollIntervalMs) return;
      clearTimeout(this.pollTimer);
    }
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      void this.poll().then(() => {
        if (this.anythingAlive()) this.schedulePoll();
      });
    }, delayMs);
    this.pollTimer.unref?.();
  }

  private stopPolling(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  private anythingAlive(): boolean {
    for (const entry of this.entries.values()) if (entry.alive) return true;
    return false;
  }

  /** One look at the OS: new descendants, ended ones, CPU and memory. Nothing is read when nothing is alive. */
  poll(): Promise<void> {
    // Polls run one after another; a caller always gets one that started after its call.
    this.pollChain = this.pollChain.then(async () => {
      if (!this.source) return;
      for (const root of this.roots()) {
        try {
          if (this.treeAlive(root)) await this.pollTree(root);
        } catch (error) {
          this.logger.error(MAIN_PROCESS, `polling ${root.name} failed: ${(error as Error).stack ?? error}`);
        }
      }
    });
    return this.pollChain;
  }

  private async pollTree(root: Entry): Promise<void> {
    const source = this.source as ProcessSource;
    const members = [root, ...this.subtree(root)];
    // Walk from every live process whose parent is no longer there to link it: the root, and orphans.
    const starts = members.filter((e) => e.alive && e.pid !== null && (e === root || !this.entries.get(e.parentId ?? '')?.alive));
    const seen = new Map<number, OsProcess>();
    for (const start of starts) {
      const self = await source.get(start.pid as number);
      if (!self || isDead(self) || (start.startTime !== undefined && self.startTime !== start.startTime)) {
        if (start !== root) this.end(start, null);
        continue;
      }
      seen.set(self.pid, self);
      for (const p of await source.descendants(self.pid)) if (!isDead(p)) seen.set(p.pid, p);
    }
    const now = Date.now();
    for (const p of seen.values()) {
      let entry = this.liveEntry(root, p.pid);
      if (entry && entry.startTime !== undefined && entry.startTime !== p.startTime) {
        this.end(entry, null); // the pid was reused by a new process
        entry = undefined;
      }
      if (!entry) {
        entry = this.addDiscovered(root, p);
      } else if (entry.kind === 'discovered' && entry.comm !== p.comm) {
        entry.comm = p.comm; // seen between fork and exec: it runs something else now
        void this.readCommand(entry);
      }
      if (entry.startTime === undefined) this.identify(entry, p);
      this.sample(entry, p, now);
    }
    for (const e of members) {
      if (e.alive && e !== root && e.pid !== null && !seen.has(e.pid)) {
        const still = await source.get(e.pid);
        if (!still || isDead(still) || (e.startTime !== undefined && still.startTime !== e.startTime)) this.end(e, null);
      }
    }
    this.forgetIfDone(root);
  }

  /** The live entry of `root`'s tree with this pid, if any. */
  private liveEntry(root: Entry, pid: number): Entry | undefined {
    const entry = this.live.get(pid);
    return entry && entry.rootId === root.id ? entry : undefined;
  }

  private sample(entry: Entry, p: OsProcess, now: number): void {
    const before = entry.cpuPercent;
    const rssBefore = entry.rssBytes;
    if (entry.lastCpuMs !== undefined && entry.lastSampleAt !== undefined && now > entry.lastSampleAt) {
      entry.cpuPercent = Math.max(0, ((p.cpuMs - entry.lastCpuMs) / (now - entry.lastSampleAt)) * 100);
    }
    entry.lastCpuMs = p.cpuMs;
    entry.lastSampleAt = now;
    entry.rssBytes = p.rssBytes;
    entry.pgid = p.pgid;
    entry.threads = p.threads;
    if (before !== entry.cpuPercent || rssBefore !== entry.rssBytes) this.changed(entry.id);
  }

  /** A new row for a descendant seen in the OS table; its full command line follows a moment later. */
  private addDiscovered(root: Entry, p: OsProcess): Entry {
    const parent = this.liveEntry(root, p.ppid) ?? root;
    const entry = new Entry(`p${++this.idCounter}`, `${parent.name}:${++parent.childCounter}`, 'discovered', root.id, Date.now());
    Object.assign(entry, { pid: p.pid, ppid: p.ppid, alive: true, command: p.comm, cwd: null, comm: p.comm });
    this.identify(entry, p);
    this.attach(entry, parent);
    void this.readCommand(entry).then(() => {
      this.logger.debug(entry.name, `discovered child process with pid ${p.pid} of ${parent.name}: ${formatCommandLine(entry.command, entry.args)}`);
    });
    return entry;
  }

  /** Records the OS start stamp of an entry's pid, which makes it safe to signal, and tells the watchdog. */
  private identify(entry: Entry, p: OsProcess): void {
    entry.startTime = p.startTime;
    if (entry.alive) this.options.watchdog?.addProcess(p.pid, p.startTime);
  }

  private async readCommand(entry: Entry): Promise<void> {
    if (!this.source || entry.pid === null) return;
    const argv = await this.source.cmdline(entry.pid);
    if (argv.length === 0) return;
    entry.command = argv[0];
    entry.args = argv.slice(1);
    this.changed(entry.id);
  }

  private attach(entry: Entry, parent: Entry): void {
    entry.parentId = parent.id;
    parent.childIds.push(entry.id);
    this.entries.set(entry.id, entry);
    if (entry.alive && entry.pid !== null) this.live.set(entry.pid, entry);
    this.changed(parent.id);
  }

  private detach(entry: Entry): void {
    const parent = this.entries.get(entry.parentId ?? '');
    if (!parent) return;
    parent.childIds.splice(parent.childIds.indexOf(entry.id), 1);
    this.changed(parent.id);
  }

  /** Marks an entry ended (once; a later exit code still fills in) and stops tracking its pid. */
  private end(entry: Entry, exitCode: number | null): void {
    const wasAlive = entry.alive;
    if (!entry.markEnded(exitCode)) return;
    if (entry.pid !== null && this.live.get(entry.pid) === entry) this.live.delete(entry.pid);
    if (wasAlive && entry.kind !== 'launched' && entry.pid !== null) this.options.watchdog?.removeProcess(entry.pid);
    if (wasAlive && entry.kind === 'discovered') {
      this.logger.debug(entry.name, `process with pid ${entry.pid} has ended`);
      // Nothing more is known of it (no exit code: it was not our child), so its row goes after a while: rows stay few
      // however many helpers a long-lived process runs.
      setTimeout(() => this.prune(entry), this.settings().transientRowMs).unref?.();
    }
    this.changed(entry.id);
  }

  private prune(entry: Entry): void {
    if (this.entries.get(entry.id) !== entry || this.treeAlive(entry)) return;
    this.remove(entry);
  }

  /** Once a launched tree has ended entirely, the watchdog need not watch it, nor the helper report on it, any longer. */
  private forgetIfDone(root: Entry): void {
    const launch = root.launch;
    if (!launch || root.pid === null || this.treeAlive(root)) return;
    this.options.watchdog?.removeGroup(root.pid);
    if (launch.instrumented) {
      launch.instrumented = false;
      this.options.instrumentation?.release(root.id);
    }
  }

  // ---- reports from the Python helper ----

  /** A multiprocessing.Process was started by a process of launch `rootId` (reports arrive in order: handled at once). */
  reportPythonStart(rootId: string, report: PythonStart): void {
    const root = this.entries.get(rootId);
    if (!root) return;
    // Nest by the reported parent (the process that called start()): for forkserver children the OS parent differs.
    const parent = this.liveEntry(root, report.ppid) ?? root;
    let entry = this.liveEntry(root, report.pid);
    if (entry === root) return;
    if (entry) {
      // Seen first in the OS table: it is this multiprocessing child; take its real name and place.
      if (entry.parentId !== parent.id) {
        this.detach(entry);
        this.attach(entry, parent);
      }
    } else {
      entry = new Entry(`p${++this.idCounter}`, report.name, 'python', root.id, report.time ?? Date.now());
      // A forked child runs its parent's command line; the real one is read from the OS while the child lives.
      Object.assign(entry, { pid: report.pid, alive: true, command: parent.command, args: [...parent.args] });
      this.attach(entry, parent);
      void this.identifyReported(entry);
    }
    Object.assign(entry, { kind: 'python', name: report.name, daemon: report.daemon, ppid: report.ppid, startMethod: report.method, cwd: root.cwd });
    // Children reported before their parent was: move them under it.
    for (const orphan of this.children(root.id)) {
      if (orphan !== entry && orphan.ppid === report.pid && orphan.kind !== 'launched') {
        this.detach(orphan);
        this.attach(orphan, entry);
      }
    }
    this.logger.debug(entry.name, `${report.daemon ? 'daemon ' : ''}process started by ${parent.name} with pid ${report.pid}${report.method ? ` (${report.method})` : ''}`);
    this.changed(entry.id);
    this.schedulePoll(FIRST_POLL_MS);
  }

  /** Start stamp and command line of a reported child; if it is already over, it shows as ended until its exit code comes. */
  private async identifyReported(entry: Entry): Promise<void> {
    const os = this.source && entry.pid !== null ? await this.source.get(entry.pid) : undefined;
    if (!os || isDead(os)) {
      if (this.source) this.end(entry, null);
      return;
    }
    this.identify(entry, os);
    await this.readCommand(entry);
  }

  /** The parent observed a multiprocessing child's exit code. */
  reportPythonExit(rootId: string, pid: number, code: number): void {
    const root = this.entries.get(rootId);
    if (!root) return;
    const candidates = this.subtree(root).filter((e) => e.pid === pid && e.kind === 'python');
    const entry = candidates.find((e) => e.alive) ?? candidates.reverse().find((e) => e.exitCode === null);
    if (entry) this.end(entry, code);
  }

  /** A record of multiprocessing's own logger, shown as log_to_stderr() prints it, after the launched program's name. */
  reportPythonLog(rootId: string, level: number, processName: string, message: string): void {
    const root = this.entries.get(rootId);
    if (!root) return;
    this.logger.log(level, processName, message, root.name);
  }

  // ---- change notification ----

  private changed(id: string): void {
    this.pendingChanges.add(id);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const ids = new Set(this.pendingChanges);
      this.pendingChanges.clear();
      this.changeEmitter.fire(ids);
    });
  }

  /** For messages about the table in the log's own voice. */
  logMain(level: keyof typeof LEVELS, message: string): void {
    this.logger.log(LEVELS[level], MAIN_PROCESS, message);
  }

  dispose(): void {
    this.disposed = true;
    this.stopPolling();
    this.changeEmitter.dispose();
    this.outputEmitter.dispose();
  }
}
