// The process model: every process ProcScope started, reported or discovered, and what can be done to them.
import { homedir } from 'node:os';
import { formatCommandLine } from './commandLine';
import { Discovery } from './discovery';
import { Entry } from './entry';
import { Emitter } from './event';
import { signalTree, waitGone, type ProcessIdentity, type TreeRoot } from './kill/killTree';
import { launchEnvironment, spawnProcess } from './launcher';
import { Logger, MAIN_PROCESS } from './logger';
import { ProcessModel } from './model';
import type { ProcessSource } from './os/processSource';
import { OutputBuffer, STDERR, STDOUT, type StreamId } from './output/outputBuffer';
import { PythonReports, type PythonStart } from './pythonReports';
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
  /** The environment for an instrumented launch, built from `env` (the launch's own), or undefined to run it plain. */
  prepare(launchId: string, spec: ValidSpec, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined;
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

export type { PythonStart } from './pythonReports';

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
  private readonly model = new ProcessModel();
  private readonly discovery: Discovery;
  private readonly python: PythonReports;
  private nameCounter = 0;
  private disposed = false;
  /** Trees being ended now: their exits need no poll of their own, endTree accounts for every process it signalled. */
  private readonly ending = new Set<Entry>();
  private readonly outputEmitter = new Emitter<OutputEvent>();
  /**
   * Fires (batched per tick) with the ids whose row changed; a new or removed row puts its parent's id in
   * the set, or '' when the top level changed.
   */
  readonly onDidChange = this.model.onDidChange;
  /** Whole lines of output as they arrive. */
  readonly onOutput = this.outputEmitter.event;
  private readonly source: ProcessSource | undefined;
  private readonly logger: Logger;
  private readonly settings: () => TableSettings;

  constructor(private readonly options: TableOptions) {
    this.source = options.source;
    this.logger = options.logger;
    this.settings = options.settings ?? (() => DEFAULT_SETTINGS);
    this.discovery = new Discovery(this.model, this.source, this.logger, this.settings, options.watchdog, (root) => this.forgetIfDone(root));
    this.python = new PythonReports(this.model, this.discovery, this.source, this.logger);
  }

  // ---- reading ----

  /** Every known process, in start order. */
  processes(): ProcessSnapshot[] {
    return [...this.model.all()].map((e) => e.snapshot());
  }

  get(id: string): ProcessSnapshot | undefined {
    return this.model.get(id)?.snapshot();
  }

  /** The entry itself, for adapters that show more than a snapshot (CPU, memory, output). */
  entry(id: string): Entry | undefined {
    return this.model.get(id);
  }

  children(parentId: string | undefined): Entry[] {
    return this.model.children(parentId);
  }

  /** Captured stdout and stderr of a launched process (bounded); empty for others. */
  output(id: string): string {
    return this.require(id).launch?.output.text() ?? '';
  }

  get liveCount(): number {
    return this.model.liveCount;
  }

  private require(id: unknown): Entry {
    const entry = typeof id === 'string' ? this.model.get(id) : undefined;
    if (!entry) throw new Error(`No process with id ${describeValue(id)}`);
    return entry;
  }

  // ---- starting ----

  /** Starts a process; rejects with a clear Error on bad input, leaving nothing behind. */
  async start(input: unknown): Promise<ProcessSnapshot> {
    if (this.disposed) throw new Error('ProcScope is shutting down: no new processes can be started');
    let spec: ValidSpec;
    try {
      spec = validateSpec(input, this.options.defaultCwd?.() ?? homedir());
    } catch (error) {
      this.logger.error(MAIN_PROCESS, `cannot start process: ${(error as Error).message}`);
      throw error;
    }
    return this.launch(spec, spec.name, true);
  }

  /** `countsName`: like multiprocessing, every new process advances the Process-N counter, named or not. */
  private async launch(spec: ValidSpec, name: string | undefined, countsName: boolean): Promise<ProcessSnapshot> {
    const id = this.model.nextId();
    const cwd = spec.cwd ?? this.options.defaultCwd?.() ?? homedir();
    let extraEnv: NodeJS.ProcessEnv | undefined;
    let spawned;
    try {
      const env = launchEnvironment(spec);
      extraEnv = this.options.instrumentation?.prepare(id, spec, env);
      spawned = await spawnProcess(spec, cwd, extraEnv ?? env);
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
    entry.launch = { child, spec, output, outputSettled, startTime, instrumented: extraEnv !== undefined };
    Object.assign(entry, { pid, ppid: process.pid, daemon: spec.daemon, alive: true, command: spec.command, args: spec.args, cwd, startTime });
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
      this.model.end(entry, exitCode);
      this.logger.info(entry.name, `process exiting with exitcode ${exitCode}`);
      this.forgetIfDone(entry);
      if (!this.ending.has(entry)) this.discovery.schedule(0);
    });

    this.logger.info(entry.name, `process started with pid ${pid}: ${commandLine}`);
    this.model.addRoot(entry);
    this.discovery.schedule(FIRST_POLL_MS);
    return entry.snapshot();
  }

  /** Starts the same spec again under the same name, after ending the old process; the old row is replaced. */
  async restart(id: string): Promise<ProcessSnapshot> {
    const entry = this.require(id);
    if (!entry.launch) throw new Error(`Only launched processes can be restarted: ${entry.name} was ${entry.kind}`);
    if (this.model.treeAlive(entry)) await this.terminate(id);
    this.logger.info(entry.name, 'restarting');
    const snapshot = await this.launch(entry.launch.spec, entry.name, false);
    this.model.remove(entry);
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

  private async endTree(entry: Entry, signal: 'SIGTERM' | 'SIGKILL', killAfterMs: number): Promise<void> {
    if (!this.model.treeAlive(entry)) return; // like multiprocessing: ending a finished process is a no-op
    this.ending.add(entry);
    try {
      await this.signalAndWait(entry, signal, killAfterMs);
    } finally {
      this.ending.delete(entry);
    }
  }

  private async signalAndWait(entry: Entry, signal: 'SIGTERM' | 'SIGKILL', killAfterMs: number): Promise<void> {
    const known = [entry, ...this.model.subtree(entry)]
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
    for (const e of this.model.subtree(entry)) {
      if (e.alive && e.pid !== null && e.startTime !== undefined && gone.get(e.pid) === e.startTime) this.model.end(e, null);
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
    const roots = this.model.roots().filter((e) => this.model.treeAlive(e));
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
    this.discovery.stopped = true;
    const roots = this.model.roots().filter((e) => this.model.treeAlive(e));
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
    this.discovery.stop();
    this.options.watchdog?.close();
  }

  // ---- removing ----

  /** Removes every finished process whose whole tree has finished; returns the ids removed. */
  clearExited(): string[] {
    const removed: string[] = [];
    for (const entry of [...this.model.all()]) {
      if (this.model.get(entry.id) !== entry || this.model.treeAlive(entry)) continue;
      const parent = entry.parentId === null ? undefined : this.model.get(entry.parentId);
      if (parent && !this.model.treeAlive(parent)) continue; // removed with its parent
      removed.push(entry.id, ...this.model.subtree(entry).map((e) => e.id));
      this.model.remove(entry);
    }
    return removed;
  }

  /** One look at the OS: new descendants, ended ones, CPU and memory. Nothing is read when nothing is alive. */
  poll(): Promise<void> {
    return this.discovery.poll();
  }

  /** Once a launched tree has ended entirely, the watchdog need not watch it, nor the helper report on it, any longer. */
  private forgetIfDone(root: Entry): void {
    const launch = root.launch;
    if (!launch || root.pid === null || this.model.treeAlive(root)) return;
    this.options.watchdog?.removeGroup(root.pid);
    if (launch.instrumented) {
      launch.instrumented = false;
      this.options.instrumentation?.release(root.id);
    }
  }

  // ---- reports from the Python helper ----

  /** A multiprocessing.Process was started by a process of launch `rootId`. */
  reportPythonStart(rootId: string, report: PythonStart): void {
    this.python.start(rootId, report);
  }

  /** The parent observed a multiprocessing child's exit code. */
  reportPythonExit(rootId: string, pid: number, code: number): void {
    this.python.exit(rootId, pid, code);
  }

  /** A record of multiprocessing's own logger, forwarded as log_to_stderr() prints it. */
  reportPythonLog(rootId: string, level: number, processName: string, message: string): void {
    this.python.log(rootId, level, processName, message);
  }

  dispose(): void {
    this.disposed = true;
    this.discovery.dispose();
    this.model.dispose();
    this.outputEmitter.dispose();
  }
}
