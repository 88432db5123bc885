// The extension host's side of the process model: a copy of the supervisor's state kept by its events, requests to
// the supervisor for everything that touches a process, and the output read straight from the supervisor's files.
//
// The host never forks for a launch (the supervisor does), so a start costs the same whatever the host's memory, and
// work outlives the host: after a reload, the next host of the window re-adopts the supervisor (adopt()). If the
// supervisor dies, the host ends every process group it was told of, so nothing is orphaned.
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { Emitter, type Event } from '../event';
import { MAIN_PROCESS, type Logger } from '../logger';
import type { ProcessEvent } from '../model/events';
import { snapshotOf, type ReadonlyRow } from '../model/row';
import { ProcessState } from '../model/state';
import type { ProcessSource } from '../os/processSource';
import { outputText, readOutput, type StoredOutput } from '../output/outputStore';
import type { SupervisorSettings } from '../settings';
import { formatSeconds } from '../status';
import type { ProcessSnapshot } from '../types';
import { describeValue, validateSpec, validateTimeout } from '../validate';
import { cleanUp } from '../watchdog/cleanup';
import { emptyRegistry } from '../watchdog/protocol';
import type { SupervisorRegistry } from './registry';
import { spawnSupervisor, type SupervisorRecord } from './spawnSupervisor';
import { SupervisorClient } from './supervisorClient';

export interface ServiceOptions {
  /** dist/supervisor.js */
  supervisorScript: string;
  /** dist/python */
  helperDir: string;
  logger: Logger;
  settings: () => SupervisorSettings;
  /** Where a spec without cwd runs (the first workspace folder, in the extension). */
  defaultCwd?: () => string;
  /** Where this window's supervisors are written down; without it nothing is re-adopted. */
  registry?: SupervisorRegistry;
  /** Reads the OS when the host has to clean up after a supervisor that died. */
  source?: ProcessSource;
  /** The environment launched processes inherit (default: the host's). */
  baseEnv?: () => NodeJS.ProcessEnv;
  nodePath?: string;
  tmpdir?: string;
  /** Extra environment for the supervisor process (tests). */
  supervisorEnv?: Record<string, string>;
}

/** Output lines of a launched process, as the supervisor relays them. */
export interface OutputNotice {
  id: string;
  stream: number;
  text: string;
  /** Bytes printed too fast to be relayed (they are in the output files all the same). */
  skipped: number;
}

/** setTimeout takes at most 2^31-1 ms; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long the host gives itself to end the processes of a supervisor that died. */
const CLEANUP_GRACE_MS = 500;

export class ProcessService {
  readonly state = new ProcessState();
  /** Batched per tick: the ids whose row changed (a parent's id, or '' for the top level, when rows come or go). */
  readonly onDidChange: Event<ReadonlySet<string>> = this.state.onDidChange;
  private readonly outputEmitter = new Emitter<OutputNotice>();
  /** Output lines as they arrive (relayed at a bounded rate: a flood is summarised by `skipped`). */
  readonly onOutput: Event<OutputNotice> = this.outputEmitter.event;
  private client: SupervisorClient | undefined;
  private record: SupervisorRecord | undefined;
  private connecting: Promise<SupervisorClient> | undefined;
  /** Directories of supervisors that died: their output files stay readable until no row needs them. */
  private readonly deadDirs = new Set<string>();
  /** A new supervisor is about to be seeded with our rows: its first (empty) snapshot is not ours to apply. */
  private seeding = false;
  private disposed = false;

  constructor(private readonly options: ServiceOptions) {}

  // ---- the supervisor ----

  /** The supervisor's pid, once one is attached. */
  get supervisorPid(): number | undefined {
    return this.client && !this.client.closed ? this.record?.pid : undefined;
  }

  /**
   * Re-adopts a supervisor of this window that outlived the previous extension host (a reload, a host crash), if there
   * is one: its processes come back with their ids, names, pids, output and history. Resolves with how many.
   */
  async adopt(): Promise<number> {
    const registry = this.options.registry;
    if (!registry || this.client) return 0;
    for (const record of registry.read()) {
      if (!isAlive(record.pid)) {
        registry.remove(record.pid);
        continue;
      }
      const result = await SupervisorClient.connect(record.socket, record.token);
      if ('refused' in result) {
        // Busy: another window's host has it. Anything else: not a supervisor of ours any more.
        if (result.refused !== 'busy') registry.remove(record.pid);
        continue;
      }
      this.attach(result.client, record);
      await this.configure();
      const adopted = result.welcome.adopted;
      // The snapshot came before the answer to configure(): the rows are here. Their trees count too.
      const live = [...this.state.all()].filter((row) => row.alive).length;
      const trees = live > adopted ? ` (${live} with their descendants)` : '';
      if (adopted > 0) this.options.logger.info(MAIN_PROCESS, `re-adopted ${adopted} process${adopted === 1 ? '' : 'es'}${trees} from supervisor pid ${record.pid}`);
      return adopted;
    }
    return 0;
  }

  private async ensureClient(): Promise<SupervisorClient> {
    if (this.client && !this.client.closed) return this.client;
    if (this.disposed) throw new Error('ProcScope is shutting down: no new processes can be started');
    this.connecting ??= (async () => {
      try {
        const seed = this.state.size > 0 ? this.state.image() : undefined;
        this.seeding = seed !== undefined;
        const { client, record } = await spawnSupervisor({
          script: this.options.supervisorScript,
          helperDir: this.options.helperDir,
          nodePath: this.options.nodePath,
          tmpdir: this.options.tmpdir,
          env: this.options.supervisorEnv,
        });
        this.options.registry?.add(record);
        this.attach(client, record);
        if (seed) await client.request('seed', { image: seed });
        await this.configure();
        this.options.logger.debug(MAIN_PROCESS, `supervisor process started with pid ${record.pid}`);
        return client;
      } finally {
        this.seeding = false;
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private attach(client: SupervisorClient, record: SupervisorRecord): void {
    this.client = client;
    this.record = record;
    client.onClose(({ expected }) => {
      if (this.client !== client) return;
      this.client = undefined;
      if (!expected) void this.supervisorLost(record);
    });
    client.open({
      event: (event) => this.receive(event),
      output: (message) => this.outputEmitter.fire({ id: message.id, stream: message.stream, text: message.text, skipped: message.skipped }),
    });
  }

  private receive(event: ProcessEvent): void {
    if (event.type === 'snapshot' && this.seeding) {
      this.seeding = false; // the new supervisor's empty state: ours is about to be its seed
      return;
    }
    this.state.apply(event);
    if (event.type === 'record') this.options.logger.log(event.level, event.process, event.message, event.source);
  }

  /** Tells the supervisor the current settings and the environment launches inherit. */
  async configure(): Promise<void> {
    const client = this.client;
    if (!client || client.closed) return;
    await client.request('configure', { settings: this.options.settings(), baseEnv: this.options.baseEnv?.() ?? process.env }).catch(() => undefined);
  }

  /** The supervisor died (killed, crashed): end every process group it had, as far as we were told, and say so. */
  private async supervisorLost(record: SupervisorRecord): Promise<void> {
    this.options.registry?.remove(record.pid);
    this.deadDirs.add(record.dir);
    const live = [...this.state.all()].filter((row) => row.alive && row.pid !== null);
    this.options.logger.error(MAIN_PROCESS, `the supervisor process (pid ${record.pid}) ended unexpectedly: ending the ${live.length} process${live.length === 1 ? '' : 'es'} it was running`);
    const registry = emptyRegistry();
    for (const row of live) {
      if (row.startTime === undefined) continue;
      if (row.kind === 'launched') registry.groups.set(row.pid as number, { leaderPid: row.pid as number, startTime: row.startTime });
      else registry.processes.set(row.pid as number, row.startTime);
    }
    if (this.options.source) await cleanUp(registry, this.options.source, CLEANUP_GRACE_MS).catch(() => 0);
    const at = Date.now();
    for (const row of live) this.state.apply({ type: 'exited', id: row.id, at, exitCode: null });
    for (const row of this.state.all()) if (row.kind === 'launched' && !row.settled) this.state.apply({ type: 'settled', id: row.id });
  }

  // ---- reading ----

  processes(): ProcessSnapshot[] {
    return this.state.snapshots();
  }

  get(id: string): ProcessSnapshot | undefined {
    return typeof id === 'string' ? this.state.snapshot(id) : undefined;
  }

  row(id: string): ReadonlyRow | undefined {
    return this.state.get(id);
  }

  children(parentId: string | undefined): ReadonlyRow[] {
    return this.state.children(parentId);
  }

  get liveCount(): number {
    return this.state.liveCount;
  }

  private require(id: unknown): ReadonlyRow {
    const row = typeof id === 'string' ? this.state.get(id) : undefined;
    if (!row) throw new Error(`No process with id ${describeValue(id)}`);
    return row;
  }

  /** A launched process's kept output, line-whole, with each line's stream (empty for other rows). */
  storedOutput(id: string): StoredOutput {
    const row = this.require(id);
    if (row.kind !== 'launched' || row.outputDir === undefined) return { segments: [], droppedBytes: 0, totalBytes: 0 };
    return readOutput(row.outputDir, row.id, this.options.settings().outputBufferBytes);
  }

  /** Captured stdout and stderr of a launched process (bounded); empty for others. */
  output(id: string): string {
    return outputText(this.storedOutput(id));
  }

  // ---- starting ----

  /** Starts a process; rejects with a clear Error on bad input, leaving nothing behind. */
  async start(input: unknown, extra: { definition?: string; folder?: string; policy?: unknown } = {}): Promise<ProcessSnapshot> {
    const cwd = this.options.defaultCwd?.() ?? homedir();
    try {
      validateSpec(input, cwd);
    } catch (error) {
      this.options.logger.error(MAIN_PROCESS, `cannot start process: ${(error as Error).message}`);
      throw error;
    }
    const client = await this.ensureClient();
    const snapshot = await client.request<ProcessSnapshot>('start', { request: { spec: input, cwd, ...extra } });
    return this.state.snapshot(snapshot.id) ?? snapshot;
  }

  /**
   * Starts the same spec again in place: same row, id, name and place; `restarts` + 1. A definition whose entry
   * changed since passes its new spec and policy.
   */
  async restart(id: unknown, change: { spec?: unknown; policy?: unknown; cwd?: string } = {}): Promise<ProcessSnapshot> {
    const row = this.require(id);
    if (row.kind !== 'launched' || !row.spec) throw new Error(`Only processes ProcScope started can be restarted: ${row.name} is a ${row.kind} process`);
    const client = await this.ensureClient();
    const cwd = change.cwd ?? row.cwd ?? this.options.defaultCwd?.() ?? homedir();
    const snapshot = await client.request<ProcessSnapshot>('restart', {
      id: row.id,
      request: { spec: change.spec ?? row.spec, cwd, definition: row.definition, folder: row.folder, policy: change.policy },
    });
    return this.state.snapshot(snapshot.id) ?? snapshot;
  }

  // ---- waiting and ending ----

  /** Waits until the process exits or `timeoutMs` passes (not an error: the snapshot then shows it alive). */
  async join(id: unknown, timeoutMs?: unknown): Promise<ProcessSnapshot> {
    const row = this.require(id);
    const timeout = validateTimeout(timeoutMs);
    const logger = this.options.logger;
    logger.debug(MAIN_PROCESS, `joining ${row.name}${timeout === undefined ? '' : ` with timeout ${formatSeconds(timeout)}`}`);
    const joined = () => {
      const now = this.state.get(row.id);
      return !now || (!now.alive && (now.kind !== 'launched' || now.settled));
    };
    if (!joined()) await this.until(joined, timeout);
    const after = this.state.get(row.id);
    if (after && !after.alive) logger.debug(MAIN_PROCESS, `${row.name} joined: ${this.state.snapshot(row.id)?.status}`);
    else logger.debug(MAIN_PROCESS, `${row.name} is still alive after join timeout`);
    return this.state.snapshot(row.id) ?? this.lastSnapshot(row);
  }

  private lastSnapshot(row: ReadonlyRow): ProcessSnapshot {
    return snapshotOf(row);
  }

  /** Resolves once `done()` holds (checked after every event), or after `timeoutMs` (chained past the timer limit). */
  private until(done: () => boolean, timeoutMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
      const finish = () => {
        clearTimeout(timer);
        subscription.dispose();
        resolve();
      };
      const subscription = this.state.onDidApply(() => {
        if (done()) finish();
      });
      const arm = () => {
        if (deadline === undefined) return;
        const left = deadline - Date.now();
        if (left <= 0) return finish();
        timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      };
      arm();
    });
  }

  /** SIGTERM to the process and its descendants; SIGKILL to whatever survives killTimeoutMs. Resolves when all are gone. */
  terminate(id: unknown): Promise<ProcessSnapshot> {
    return this.end(id, 'SIGTERM');
  }

  /** SIGKILL to the process and its descendants. Resolves when all are gone. */
  kill(id: unknown): Promise<ProcessSnapshot> {
    return this.end(id, 'SIGKILL');
  }

  private async end(id: unknown, signal: 'SIGTERM' | 'SIGKILL'): Promise<ProcessSnapshot> {
    const row = this.require(id);
    const client = this.client;
    if (client && !client.closed) await client.request('terminate', { id: row.id, signal });
    return this.state.snapshot(row.id) ?? this.lastSnapshot(row);
  }

  /** Ends everything, daemons first, the way multiprocessing's exit handler ends a program's children. */
  async stopAll(): Promise<ProcessSnapshot[]> {
    const client = this.client;
    if (!client || client.closed) return [];
    return client.request<ProcessSnapshot[]>('stopAll');
  }

  /** Removes every finished process whose whole tree has finished; returns the ids removed. */
  async clearExited(): Promise<string[]> {
    const client = this.client;
    let ids: string[];
    if (client && !client.closed) {
      ids = await client.request<string[]>('clear');
    } else {
      // No supervisor: the rows left are ours alone (a supervisor that died).
      const tops = this.state.roots().filter((row) => !this.state.treeAlive(row.id));
      ids = tops.flatMap((row) => [row.id, ...this.state.subtree(row.id).map((r) => r.id)]);
      if (tops.length > 0) this.state.apply({ type: 'removed', ids: tops.map((row) => row.id) });
    }
    this.removeDeadDirs(false);
    return ids;
  }

  /** The directories of dead supervisors that no row reads from any more (all of them, when `all`). */
  private removeDeadDirs(all: boolean): void {
    for (const dir of this.deadDirs) {
      if (!all && [...this.state.all()].some((row) => row.outputDir === dir)) continue;
      rmSync(dir, { recursive: true, force: true });
      this.deadDirs.delete(dir);
    }
  }

  /** Records a fact of the host's (a readiness result, a phase, a record) in the state everyone sees. */
  async note(event: ProcessEvent): Promise<void> {
    const client = this.client;
    if (client && !client.closed) await client.request('note', { event });
    else this.receive(event);
  }

  /** One look at the OS by the supervisor: new descendants, ended ones, CPU, memory, ports. */
  async poll(): Promise<void> {
    const client = this.client;
    if (client && !client.closed) await client.request('poll');
  }

  /**
   * The host is going away (deactivate: a reload, or the window closing). The supervisor terminates daemons now and
   * keeps the rest for the next host of this window, or applies the exit rules if none comes within reattachGraceMs.
   */
  async detach(): Promise<void> {
    const client = this.client;
    this.disposed = true;
    if (!client || client.closed) return;
    this.client = undefined;
    await Promise.race([client.request('detach').catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500))]);
    client.close();
  }

  dispose(): void {
    this.disposed = true;
    this.removeDeadDirs(true);
    this.client?.dispose();
    this.client = undefined;
    this.outputEmitter.dispose();
    this.state.dispose();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

