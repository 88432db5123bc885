// The owner of the processes: starts them, keeps their output, reaps them, ends their trees, and turns all of it, with
// what the /proc poll and the Python helper find, into events on its ProcessState. It runs inside the supervisor
// process (src/supervisor/main.ts), and in-process in tests.
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { isPythonCommand, pythonFlagsNote } from '../instrument/pythonEnv';
import { formatCommandLine } from '../commandLine';
import { Emitter, type Event } from '../event';
import { signalTree, waitGone, type KnownProcess, type ProcessIdentity, type TreeRoot } from '../kill/killTree';
import { sameStart } from '../os/identity';
import { launchEnvironment, spawnProcess } from '../launcher';
import { LEVELS } from '../levels';
import { MAIN_PROCESS } from '../logger';
import type { LaunchedEvent, ProcessEvent, RecordEvent } from '../model/events';
import type { ReadonlyRow, StateImage } from '../model/row';
import { ProcessState } from '../model/state';
import type { ProcessSource } from '../os/processSource';
import { OutputWriter, removeOutput, STDERR, STDOUT, type StreamId } from '../output/outputStore';
import { ownerMark, OWNER_VARIABLE } from '../ownerMark';
import { DEFAULT_SETTINGS, type SupervisorSettings } from '../settings';
import { exitCodeOf } from '../signals';
import { exitDescription } from '../status';
import type { ProcessSnapshot } from '../types';
import { describeValue, validateSpec, type ValidSpec } from '../validate';
import type { WatchdogClient } from '../watchdog/client';
import { Discovery } from './discovery';
import { readPipe, type PipeListener } from './pipeReader';
import { Policies, validatePolicy, type LaunchPolicy } from './policies';
import { PythonReports } from './pythonReports';
import { SyncGraph } from './syncGraph';

/** What the host asks to start: a spec (validated again here), where to run it, and the definition it comes from. */
export interface StartRequest {
  spec: unknown;
  /** The working directory when the spec has none (the workspace folder). */
  cwd: string;
  definition?: string;
  folder?: string;
  /** Readiness probe and restart policy (a workspace definition's). */
  policy?: unknown;
}

/** Whole lines of a launched process's output, as they arrive. */
export interface OutputLines {
  id: string;
  stream: StreamId;
  /** The lines, in parts (not joined: most listeners need only a few of them); copy them to keep them. */
  parts: readonly Buffer[];
  bytes: number;
}

export interface SupervisorOptions {
  source: ProcessSource | undefined;
  /** Where the output files go (a private directory). */
  outputDir: string;
  settings?: Partial<SupervisorSettings>;
  /** The environment launched processes inherit (the editor's). */
  baseEnv?: NodeJS.ProcessEnv;
  /** The folder of the Python helper (dist/python); without it nothing is instrumented. */
  helperDir?: string;
  watchdog?: WatchdogClient;
  /** This supervisor's mark in PROCSCOPE_OWNER; random by default. */
  owner?: string;
}

/** How long a flood of output may wait in memory before it is written (OutputWriter): most of it never needs writing. */
const OUTPUT_HOLD_MS = 20;
/** After exit, how long to wait for the pipes to drain when a descendant keeps them open. */
const OUTPUT_GRACE_MS = 200;
/** …and when none does: the pipes close with the last writer, but a loaded machine may deliver that late. */
const OUTPUT_DRAIN_MS = 5000;
/** Kill escalation in the exit rules: SIGKILL at most this long after SIGTERM. */
const SHUTDOWN_KILL_AFTER_MS = 1000;
/** First descendant scan after a launch, so short-lived children are seen too. */
const FIRST_POLL_MS = 50;
/** How long a SIGKILLed tree may take to be gone before it is reported as not ended. */
const KILL_WAIT_MS = 5000;

/** The OS side of one launched row: the child process and its pipes. Supervisor-only, never replicated. */
class Launch {
  exited = false;
  exitCode: number | null = null;
  exitAt = 0;
  /** The launched event went out: an exit seen earlier waits for it. */
  announced = false;
  startTime = 0;
  /** outputEnded has resolved. */
  outputDone = false;

  /** The spawned process's handle, let go once its exit is settled (an ended row keeps only what it shows). */
  child: ChildProcess | undefined;

  constructor(
    readonly id: string,
    child: ChildProcess,
    readonly pid: number,
    readonly spec: ValidSpec,
    readonly cwd: string,
    readonly instrumented: boolean,
    readonly policy: LaunchPolicy,
    /** Both pipes ended (EOF, or failed): all output is read. */
    readonly outputEnded: Promise<void>,
  ) {
    this.child = child;
    void outputEnded.then(() => (this.outputDone = true));
  }

  /** Its exit is settled: once its pipes have ended too, the handle is let go. */
  settle(): void {
    void this.outputEnded.then(() => (this.child = undefined));
  }

  /** True until the leader has been reaped: while it is, its pid and group id cannot belong to anyone else. */
  get leaderAlive(): boolean {
    return !this.exited && this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }
}

export class Supervisor {
  readonly state = new ProcessState();
  readonly owner: string;
  private readonly outputEmitter = new Emitter<OutputLines>();
  /** Whole lines of output as they arrive. */
  readonly onOutput: Event<OutputLines> = this.outputEmitter.event;
  private readonly launches = new Map<string, Launch>();
  private readonly writers = new Map<string, OutputWriter>();
  private readonly discovery: Discovery;
  private readonly python: PythonReports | undefined;
  private readonly syncGraph: SyncGraph | undefined;
  private readonly policies: Policies;
  private readonly source: ProcessSource | undefined;
  private settings: SupervisorSettings;
  private baseEnv: NodeJS.ProcessEnv;
  private closed = false;
  /** Trees being ended now: their exits need no poll of their own. */
  private readonly ending = new Set<string>();

  constructor(private readonly options: SupervisorOptions) {
    this.source = options.source;
    this.settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this.baseEnv = options.baseEnv ?? process.env;
    this.owner = options.owner ?? randomBytes(6).toString('hex');
    options.watchdog?.watchMark(this.owner);
    this.discovery = new Discovery({
      state: this.state,
      emit: (event) => this.emit(event),
      log: (level, name, message) => this.log(LEVELS[level.toUpperCase() as 'DEBUG'], name, message),
      pollIntervalMs: () => this.settings.pollIntervalMs,
      owner: this.owner,
      watchdog: options.watchdog,
      afterPoll: (rootId) => this.forgetIfDone(rootId),
      identified: (rootId, startTime) => this.identified(rootId, startTime),
    }, this.source);
    this.policies = new Policies({
      state: this.state,
      emit: (event) => this.emit(event),
      log: (level, name, message) => this.log(level, name, message),
      restart: (id) => this.restart(id),
    });
    if (options.helperDir !== undefined) {
      const sync = new SyncGraph({ state: this.state, emit: (event) => this.emit(event), log: (level, name, message) => this.log(level, name, message) });
      this.syncGraph = sync;
      this.python = new PythonReports({
        sync: (report) => sync.handle(report),
        state: this.state,
        emit: (event) => this.emit(event),
        warn: (message) => this.log(LEVELS.WARNING, MAIN_PROCESS, message),
        debug: (name, message) => this.log(LEVELS.DEBUG, name, message),
        error: (name, message) => this.log(LEVELS.ERROR, name, message),
        level: () => this.settings.logLevel,
        discovery: this.discovery,
        source: this.source,
      }, options.helperDir);
    }
  }

  // ---- events ----

  emit(event: ProcessEvent): void {
    this.state.apply(event);
  }

  /** A record of ProcScope's own, produced only at or above procscope.logLevel (NOTSET: none). */
  log(level: number, processName: string, message: string): void {
    if (this.settings.logLevel === LEVELS.NOTSET || level < this.settings.logLevel) return;
    this.emit({ type: 'record', level, process: processName, message });
  }

  configure(settings: Partial<SupervisorSettings>): void {
    this.settings = { ...this.settings, ...settings };
    this.python?.setLevel(this.settings.logLevel);
    for (const writer of this.writers.values()) writer.setMaxBytes(this.settings.outputBufferBytes);
  }

  get currentSettings(): Readonly<SupervisorSettings> {
    return this.settings;
  }

  /** The environment launched processes inherit from now on. */
  setBaseEnv(env: NodeJS.ProcessEnv): void {
    this.baseEnv = env;
  }

  /** Takes over rows a previous supervisor left (all ended), so numbering and history go on. */
  seed(image: StateImage): void {
    if (this.state.size > 0) return;
    this.emit({ type: 'snapshot', image });
  }

  /** Is anything still running (or about to be reaped)? */
  get busy(): boolean {
    if (this.state.liveCount > 0 || this.ending.size > 0) return true;
    for (const launch of this.launches.values()) if (!this.state.get(launch.id)?.settled) return true;
    for (const root of this.state.roots()) if (this.discovery.hasTracked(root.id)) return true;
    return false;
  }

  // ---- starting ----

  /** Starts a process; rejects with a clear Error on bad input, leaving nothing behind. */
  async start(request: StartRequest): Promise<ProcessSnapshot> {
    if (this.closed) throw new Error('ProcScope is shutting down: no new processes can be started');
    let spec: ValidSpec;
    let policy: LaunchPolicy;
    try {
      spec = validateSpec(request.spec, request.cwd);
      policy = validatePolicy(request.policy);
    } catch (error) {
      this.log(LEVELS.ERROR, MAIN_PROCESS, `cannot start process: ${(error as Error).message}`);
      throw error;
    }
    const id = this.state.allocateId();
    const name = spec.name ?? `Process-${this.state.launches + 1}`;
    return this.launch(id, name, spec, spec.cwd ?? request.cwd, { definition: request.definition, folder: request.folder, policy });
  }

  /** Starts the same spec again in place: same row, id, name and place; restarts + 1; a boundary in the output. */
  async restart(id: unknown, request?: StartRequest): Promise<ProcessSnapshot> {
    const row = this.require(id);
    const previous = this.launches.get(row.id);
    if (row.kind !== 'launched' || (!previous && !request)) {
      throw new Error(`Only processes ProcScope started can be restarted: ${row.name} is a ${row.kind} process`);
    }
    const policy = request?.policy !== undefined ? validatePolicy(request.policy) : previous?.policy ?? { restart: 'no' as const };
    this.policies.stoppedByUser(row.id);
    if (this.state.treeAlive(row.id) || this.discovery.hasTracked(row.id)) await this.endTree(row.id, 'SIGTERM', this.settings.killTimeoutMs);
    const spec = request ? validateSpec(request.spec, request.cwd) : (previous as Launch).spec;
    const cwd = request ? spec.cwd ?? request.cwd : (previous as Launch).cwd;
    const current = this.state.get(row.id) as ReadonlyRow;
    this.log(LEVELS.INFO, current.name, 'restarting');
    const run = current.restarts + 2;
    this.writer(row.id).note(`── restarted (${exitDescription(current.exitCode)}), run ${run} ──`);
    this.discovery.forget(row.id);
    return this.launch(row.id, current.name, spec, cwd, {
      restart: true,
      definition: request?.definition ?? current.definition,
      folder: request?.folder ?? current.folder,
      policy,
    });
  }

  private writer(id: string): OutputWriter {
    let writer = this.writers.get(id);
    if (!writer) {
      writer = new OutputWriter(this.options.outputDir, id, this.settings.outputBufferBytes, undefined, OUTPUT_HOLD_MS);
      this.writers.set(id, writer);
    }
    return writer;
  }

  private environment(id: string, spec: ValidSpec): { env: NodeJS.ProcessEnv; instrumented: boolean; note?: string } {
    const base = launchEnvironment(spec, this.baseEnv);
    let env: NodeJS.ProcessEnv = base;
    let instrumented = false;
    if (this.python && this.wantsPython(spec)) {
      const prepared = this.python.prepare(id, base);
      if (prepared) {
        env = prepared;
        instrumented = true;
      }
    }
    // Set last: the helper's environment drops PROCSCOPE_* variables inherited from an outer launch.
    env[OWNER_VARIABLE] = ownerMark(this.owner, id);
    // The interpreter may be told to ignore it all (python -I, -E, -S): then say so, rather than show nothing.
    const note = instrumented ? pythonFlagsNote(spec.command, spec.args, spec.shell) : undefined;
    return { env, instrumented, note };
  }

  /** `python`, or `auto` and the command runs Python (for a shell command line: its first word). */
  private wantsPython(spec: ValidSpec): boolean {
    if (spec.instrument !== 'auto') return spec.instrument === 'python';
    if (!spec.shell) return isPythonCommand(spec.command, spec.args);
    const [first, ...rest] = spec.command.trim().split(/\s+/);
    return isPythonCommand(first, rest);
  }

  private async launch(
    id: string,
    name: string,
    spec: ValidSpec,
    cwd: string,
    extra: { restart?: boolean; definition?: string; folder?: string; policy: LaunchPolicy },
  ): Promise<ProcessSnapshot> {
    const { env, instrumented, note } = this.environment(id, spec);
    let spawned;
    try {
      spawned = await spawnProcess(spec, cwd, env);
    } catch (error) {
      if (instrumented) this.python?.release(id);
      this.log(LEVELS.ERROR, extra.restart ? name : MAIN_PROCESS, `cannot start process: ${(error as Error).message}`);
      throw error;
    }
    const { child, pid } = spawned;
    // Listeners first, synchronously: an exit before the launched event goes out is announced after it.
    const writer = this.writer(id);
    const reader = (stream: typeof STDOUT | typeof STDERR): PipeListener => ({
      data: (chunk) => {
        const parts = writer.take(stream, chunk);
        if (!parts) return;
        if (this.policies.wantsOutput(id)) this.policies.output(id, parts.length === 1 ? parts[0] : Buffer.concat(parts));
        if (this.outputEmitter.hasListeners) this.outputEmitter.fire({ id, stream, parts, bytes: parts.reduce((n, part) => n + part.length, 0) });
      },
      end: () => {
        const line = writer.end(stream);
        if (line && this.outputEmitter.hasListeners) this.outputEmitter.fire({ id, stream, parts: [line], bytes: line.length });
      },
    });
    const outputEnded = Promise.all([readPipe(child.stdout as Socket, reader(STDOUT)), readPipe(child.stderr as Socket, reader(STDERR))]).then(() => undefined);
    const launch = new Launch(id, child, pid, spec, cwd, instrumented, extra.policy, outputEnded);
    this.launches.set(id, launch);
    child.on('exit', (code, signal) => {
      launch.exited = true;
      launch.exitCode = exitCodeOf(code, signal);
      launch.exitAt = Date.now();
      if (launch.announced) this.announceExit(launch);
    });

    this.discovery.watch(id, instrumented || this.wantsPython(spec));
    const event: LaunchedEvent = {
      type: 'launched', id, name, at: Date.now(), pid, ppid: process.pid, startTime: 0, // see identified()
      command: spec.command, args: spec.args, cwd, daemon: spec.daemon, instrumented, note,
      definition: extra.definition, folder: extra.folder, restart: extra.restart,
      spec: { ...spec, name: spec.name, cwd: spec.cwd }, outputDir: this.options.outputDir,
    };
    this.emit(event);
    launch.announced = true;
    const commandLine = spec.shell ? [spec.command, ...spec.args].join(' ') : formatCommandLine(spec.command, spec.args);
    this.log(LEVELS.INFO, name, `process started with pid ${pid}: ${commandLine}`);
    if (note) this.log(LEVELS.INFO, name, note);
    this.policies.launched(id, extra.policy);
    if (launch.exited) this.announceExit(launch);
    this.discovery.schedule(FIRST_POLL_MS);
    return this.snapshot(id);
  }

  /**
   * The launched process `id`'s start stamp, read by its tree's first poll (not at launch: see LaunchedEvent.startTime).
   * From now on its group is the watchdog's to end too; before, the mark its processes carry names them.
   */
  private identified(id: string, startTime: number): void {
    const launch = this.launches.get(id);
    if (!launch || launch.exited || launch.startTime !== 0 || startTime === 0) return;
    launch.startTime = startTime;
    this.emit({ type: 'identified', id, startTime });
    this.options.watchdog?.addGroup(launch.pid, launch.pid, startTime);
  }

  private announceExit(launch: Launch): void {
    const row = this.state.get(launch.id);
    if (!row || this.launches.get(launch.id) !== launch) return;
    this.emit({ type: 'exited', id: launch.id, at: launch.exitAt, exitCode: launch.exitCode, byRequest: this.ending.has(launch.id) || undefined });
    this.log(LEVELS.INFO, row.name, `process exiting with exitcode ${launch.exitCode}`);
    if (!this.ending.has(launch.id)) this.discovery.schedule(0);
    void this.settle(launch);
  }

  /**
   * Output is complete once the pipes are drained and, for a Python program, its last reports are in. Most often the
   * pipes ended before the exit was reaped: then nothing is awaited, and the launch settles within this call.
   */
  private async settle(launch: Launch): Promise<void> {
    if (!launch.outputDone) {
      let timer: NodeJS.Timeout | undefined;
      // A live descendant may hold the pipes open for as long as it lives: then only a short grace, not the drain.
      const held = this.state.subtree(launch.id).some((r) => r.alive) || this.discovery.hasTracked(launch.id);
      await Promise.race([launch.outputEnded, new Promise<void>((resolve) => (timer = setTimeout(resolve, held ? OUTPUT_GRACE_MS : OUTPUT_DRAIN_MS)))]);
      clearTimeout(timer);
    }
    if (launch.instrumented) await this.python?.settled(launch.id);
    if (this.launches.get(launch.id) !== launch) return; // restarted meanwhile
    this.writers.get(launch.id)?.close();
    launch.settle();
    this.emit({ type: 'settled', id: launch.id });
    this.forgetIfDone(launch.id);
  }

  // ---- ending ----

  private require(id: unknown): ReadonlyRow {
    const row = typeof id === 'string' ? this.state.get(id) : undefined;
    if (!row) throw new Error(`No process with id ${describeValue(id)}`);
    return row;
  }

  /** SIGTERM (or SIGKILL) to the process and its descendants; SIGKILL to whatever survives. Resolves when all are gone. */
  async terminate(id: unknown, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', killAfterMs = this.settings.killTimeoutMs): Promise<ProcessSnapshot> {
    const row = this.require(id);
    this.policies.stoppedByUser(row.id);
    await this.endTree(row.id, signal, signal === 'SIGKILL' ? 0 : killAfterMs);
    return this.snapshot(row.id);
  }

  private async endTree(id: string, signal: 'SIGTERM' | 'SIGKILL', killAfterMs: number): Promise<void> {
    // Like multiprocessing: ending a finished process is a no-op.
    if (!this.state.treeAlive(id) && !this.discovery.hasTracked(this.state.get(id)?.rootId ?? id)) return;
    this.ending.add(id);
    try {
      await this.signalAndWait(id, signal, killAfterMs);
    } finally {
      this.ending.delete(id);
    }
  }

  /** Every process of the tree we know of: rows, and (for a launched row) descendants that are not rows. */
  private knownMembers(id: string): KnownProcess[] {
    const row = this.state.get(id);
    const known: KnownProcess[] = [];
    for (const r of [row, ...this.state.subtree(id)]) {
      if (r?.alive && r.pid !== null && r.startTime !== undefined && r.startTime !== 0) known.push({ pid: r.pid, startTime: r.startTime });
    }
    if (row?.kind === 'launched') {
      for (const p of this.discovery.trackedOf(id)) known.push({ pid: p.pid, startTime: p.startTime, pgid: p.pgid, threads: p.threads });
    }
    return known;
  }

  private treeRoot(id: string): TreeRoot {
    const row = this.state.get(id) as ReadonlyRow;
    const launch = row.kind === 'launched' ? this.launches.get(id) : undefined;
    return {
      pid: row.pid ?? -1,
      startTime: row.startTime ?? 0,
      pgid: launch && process.platform !== 'win32' ? launch.pid : undefined,
      leaderAlive: launch ? launch.leaderAlive : row.alive && row.pid !== null,
    };
  }

  private async signalAndWait(id: string, signal: 'SIGTERM' | 'SIGKILL', killAfterMs: number): Promise<void> {
    const row = this.state.get(id) as ReadonlyRow;
    const known = this.knownMembers(id);
    const targets = await signalTree(this.source, this.treeRoot(id), known, signal);
    const signalledAt = Date.now();
    let signalled = targets;
    const count = (n: number) => `${n} process${n === 1 ? '' : 'es'}`;
    this.log(LEVELS.INFO, row.name, `sending ${signal} to ${count(targets.length)}${row.pid !== null ? ` (pid ${row.pid} and its descendants)` : ''}`);
    let survivors = await this.waitForTree(id, targets, signal === 'SIGKILL' ? KILL_WAIT_MS : killAfterMs);
    if (survivors.length > 0 && signal === 'SIGTERM') {
      this.log(LEVELS.WARNING, row.name, `${count(survivors.length)} still alive ${killAfterMs} ms after SIGTERM: sending SIGKILL`);
      const more = await signalTree(this.source, this.treeRoot(id), [...known, ...survivors], 'SIGKILL');
      this.log(LEVELS.DEBUG, row.name, `SIGKILL sent ${Date.now() - signalledAt} ms after SIGTERM`);
      signalled = [...targets, ...more];
      survivors = await this.waitForTree(id, [...survivors, ...more], KILL_WAIT_MS);
    }
    if (survivors.length > 0) this.log(LEVELS.ERROR, row.name, `${count(survivors.length)} could not be ended: ${survivors.map((s) => s.pid).join(', ')}`);
    // What was signalled and is not among the survivors is verified gone (pid and start stamp): mark it so, so that the
    // poll below reads nothing twice (while a big tree dies, reading it again costs as much as the rest of terminate).
    const left = new Set(survivors.map((s) => s.pid));
    const gone = new Map(signalled.filter((t) => !left.has(t.pid)).map((t) => [t.pid, t.startTime]));
    for (const r of this.state.subtree(id)) {
      if (r.alive && r.pid !== null && gone.has(r.pid) && sameStart(r.startTime, gone.get(r.pid))) {
        this.emit({ type: 'exited', id: r.id, at: Date.now(), exitCode: null });
      }
    }
    await this.discovery.poll();
  }

  /** Waits for the signalled processes to be gone and, for a launched process, for its exit to be reaped. */
  private async waitForTree(id: string, targets: ProcessIdentity[], timeoutMs: number): Promise<ProcessIdentity[]> {
    const deadline = Date.now() + timeoutMs;
    const survivors = await waitGone(this.source, targets, timeoutMs);
    const launch = this.launches.get(id);
    if (survivors.length === 0 && launch && !launch.exited) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(50, deadline - Date.now()));
        launch.child?.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (!launch.exited) return [{ pid: launch.pid, startTime: launch.startTime }];
    }
    return survivors;
  }

  /** Ends everything, daemons first, the way multiprocessing's exit handler ends a program's children. */
  async stopAll(killAfterMs = this.settings.killTimeoutMs): Promise<ProcessSnapshot[]> {
    this.policies.stopAll();
    const roots = this.state.roots().filter((r) => this.state.treeAlive(r.id) || this.discovery.hasTracked(r.id));
    const daemons = roots.filter((r) => r.daemon);
    for (const daemon of daemons) this.log(LEVELS.INFO, MAIN_PROCESS, `calling terminate() for daemon ${daemon.name}`);
    await Promise.all(daemons.map((r) => this.endTree(r.id, 'SIGTERM', killAfterMs)));
    await Promise.all(roots.filter((r) => !r.daemon).map((r) => this.endTree(r.id, 'SIGTERM', killAfterMs)));
    return roots.map((r) => this.snapshot(r.id));
  }

  /** The main program is gone (no host came back): terminate daemons (if still running) and end them. */
  async terminateDaemons(): Promise<void> {
    const daemons = this.state.roots().filter((r) => r.daemon && (this.state.treeAlive(r.id) || this.discovery.hasTracked(r.id)));
    for (const daemon of daemons) {
      this.policies.stoppedByUser(daemon.id);
      this.log(LEVELS.INFO, MAIN_PROCESS, `calling terminate() for daemon ${daemon.name}`);
    }
    await Promise.all(daemons.map((r) => this.endTree(r.id, 'SIGTERM', SHUTDOWN_KILL_AFTER_MS)));
  }

  /**
   * multiprocessing's exit function: terminate daemons, join the others for shutdownJoinTimeoutMs, terminate what is
   * left and SIGKILL it at most a second later. No new process can start afterwards.
   */
  async exitRules(): Promise<void> {
    this.closed = true;
    this.policies.stopAll();
    const daemons = this.terminateDaemons();
    const joinDeadline = Date.now() + this.settings.shutdownJoinTimeoutMs;
    const others = this.state.roots().filter((r) => !r.daemon && (this.state.treeAlive(r.id) || this.discovery.hasTracked(r.id)));
    for (const r of others) if (r.alive) this.log(LEVELS.INFO, MAIN_PROCESS, `calling join() for process ${r.name}`);
    await Promise.all(
      others.map(async (r) => {
        await this.whenEnded(r.id, Math.max(0, joinDeadline - Date.now()));
        await this.endTree(r.id, 'SIGTERM', SHUTDOWN_KILL_AFTER_MS);
      }),
    );
    await daemons;
    this.discovery.stop();
  }

  /** Resolves when the row is no longer alive, or after `timeoutMs`. */
  private whenEnded(id: string, timeoutMs: number): Promise<void> {
    if (!this.state.get(id)?.alive) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      const subscription = this.state.onDidApply((event) => {
        if (event.type === 'exited' && event.id === id) finish();
      });
      function finish(): void {
        clearTimeout(timer);
        subscription.dispose();
        resolve();
      }
    });
  }

  /** Removes every finished row whose whole tree has finished; returns the ids removed. */
  clearExited(): string[] {
    const removed: string[] = [];
    const tops: string[] = [];
    for (const row of [...this.state.all()]) {
      if (this.state.treeAlive(row.id) || (row.kind === 'launched' && (this.discovery.hasTracked(row.id) || !row.settled))) continue;
      const parent = row.parentId === null ? undefined : this.state.get(row.parentId);
      if (parent && !this.state.treeAlive(parent.id) && !(parent.kind === 'launched' && !parent.settled)) continue; // goes with its parent
      tops.push(row.id);
      removed.push(row.id, ...this.state.subtree(row.id).map((r) => r.id));
    }
    if (tops.length === 0) return [];
    for (const id of removed) this.forgetLaunch(id);
    this.emit({ type: 'removed', ids: tops });
    return removed;
  }

  /** A host-side fact to record (a readiness result, a phase, a record): it becomes part of the state everyone sees. */
  note(event: ProcessEvent): void {
    switch (event.type) {
      case 'ready':
      case 'phase':
        this.require(event.id);
        this.emit(event);
        return;
      case 'record':
        this.emit(event satisfies RecordEvent);
        return;
      default:
        throw new Error(`Not a note: ${describeValue(event.type)}`);
    }
  }

  /** One look at the OS: new descendants, ended ones, CPU, memory and ports. Nothing is read when nothing is alive. */
  poll(): Promise<void> {
    return this.discovery.poll();
  }

  snapshot(id: string): ProcessSnapshot {
    return this.state.snapshot(id) as ProcessSnapshot;
  }

  /** Once a launched tree has ended entirely, the watchdog need not watch it, nor the helper report on it, any longer. */
  private forgetIfDone(rootId: string): void {
    const row = this.state.get(rootId);
    const launch = this.launches.get(rootId);
    if (!row || !launch || row.pid === null || this.state.treeAlive(rootId) || this.discovery.hasTracked(rootId) || !row.settled) return;
    this.options.watchdog?.removeGroup(launch.pid);
    if (launch.instrumented) this.python?.release(rootId);
    this.discovery.forget(rootId);
  }

  /** A row removed from the state: its output files and what is known of its launch go too. */
  private forgetLaunch(id: string): void {
    this.launches.delete(id);
    this.policies.forget(id);
    const writer = this.writers.get(id);
    if (writer) {
      writer.close();
      this.writers.delete(id);
      if (writer.hasFiles) removeOutput(this.options.outputDir, id);
    }
  }

  dispose(): void {
    this.closed = true;
    this.discovery.dispose();
    this.policies.dispose();
    this.python?.dispose();
    this.syncGraph?.dispose();
    for (const writer of this.writers.values()) writer.close();
    this.outputEmitter.dispose();
    this.state.dispose();
  }
}
