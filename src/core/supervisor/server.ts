// The supervisor's socket: one host at a time (its window's), authenticated by a token; it relays the supervisor's
// events and output to the host and runs its requests, and applies multiprocessing's exit rules when no host comes back.
import { timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import * as net from 'node:net';
import { LEVELS } from '../levels';
import { MAIN_PROCESS } from '../logger';
import type { ProcessEvent, RecordEvent } from '../model/events';
import type { StateImage } from '../model/row';
import type { SupervisorSettings } from '../settings';
import { describeValue } from '../validate';
import {
  encode, LineReader, MAX_HELLO_BYTES, MAX_LINE_BYTES, parseHello, parseRequest, SUPERVISOR_PROTOCOL_VERSION, type Refused, type Request,
} from './protocol';
import type { OutputLines, StartRequest, Supervisor } from './supervisor';

export interface SupervisorServerOptions {
  socketPath: string;
  token: string;
  /** A connection must say hello within this time. Default 2000 ms. */
  helloTimeoutMs?: number;
  /** The supervisor is done (nothing to watch and no host, or the exit rules have run): the process should exit. */
  onExit(reason: string): void;
  /** Diagnostics of the supervisor itself (its log file). */
  diagnose?(message: string): void;
}

/** Records kept for a host that attaches later (a re-adopting window shows them again). */
const RECORDS_KEPT = 2000;
/** Output is relayed to the host at most this often per process, and at most OUTPUT_BYTES_PER_FLUSH at a time. */
const OUTPUT_FLUSH_MS = 50;
const OUTPUT_BYTES_PER_FLUSH = 64 * 1024;
/**
 * Output not yet taken by the host beyond which lines are no longer relayed, only counted as skipped: the host reads
 * the whole output from disk anyway, and a host slower than 200 chatty processes must not grow this process's memory.
 */
const MAX_HOST_BACKLOG_BYTES = 1024 * 1024;
/**
 * What waits to be relayed, all processes' together, is copied into one buffer of this size, used again once all of it
 * is sent (the lines the supervisor hands out are its reader's reused buffer); what does not fit is counted as
 * skipped. 5 MB/s of live text for the log's echo and the documents' staleness: the whole output is on disk.
 */
const RELAY_BYTES = 256 * 1024;
/** With no host and nothing to watch, exit this soon (a host reloading may still come back within it). */
const IDLE_EXIT_MS = 1000;

interface PendingOutput {
  stream: number;
  parts: Buffer[];
  bytes: number;
  skipped: number;
}

class HostConnection {
  attached = false;
  hostPid = 0;
  closed = false;
  readonly reader: LineReader;

  constructor(
    readonly socket: net.Socket,
    onLine: (connection: HostConnection, line: string) => void,
    onOverlong: (connection: HostConnection) => void,
  ) {
    this.reader = new LineReader(MAX_HELLO_BYTES, (line) => onLine(this, line), () => onOverlong(this));
  }

  send(message: object): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(encode(message));
  }

  /** Bytes written to the host and not yet taken by it. */
  get backlog(): number {
    return this.socket.writableLength;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

export class SupervisorServer {
  private server: net.Server | undefined;
  private host: HostConnection | undefined;
  private readonly connections = new Set<HostConnection>();
  private readonly records: RecordEvent[] = [];
  private readonly output = new Map<string, PendingOutput>();
  private outputTimer: NodeJS.Timeout | undefined;
  private relayBuffer: Buffer | undefined;
  private relayUsed = 0;
  private graceTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private finishing = false;
  /** Before the first host attaches, only the grace period ends the wait (a host may be slow to connect). */
  private everAttached = false;
  private readonly token: Buffer;
  private readonly subscriptions: { dispose(): void }[] = [];

  constructor(
    private readonly supervisor: Supervisor,
    private readonly options: SupervisorServerOptions,
  ) {
    this.token = Buffer.from(options.token);
    this.subscriptions.push(
      supervisor.state.onDidApply((event) => this.relay(event)),
      supervisor.onOutput((lines) => this.queueOutput(lines)),
      supervisor.state.onDidChange(() => this.checkIdle()),
    );
  }

  /** Listens on the socket; until a host attaches, the supervisor waits for one as after a host left. */
  listen(): Promise<void> {
    rmSync(this.options.socketPath, { force: true });
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.socketPath, () => {
        server.removeListener('error', reject);
        server.on('error', (error) => this.options.diagnose?.(`socket error: ${error.message}`));
        this.hostGone(false);
        resolve();
      });
    });
  }

  get attached(): boolean {
    return this.host !== undefined;
  }

  private accept(socket: net.Socket): void {
    const connection = new HostConnection(socket, (c, line) => this.handleLine(c, line), (c) => this.refuse(c, 'hello', 'line too long'));
    this.connections.add(connection);
    const helloTimer = setTimeout(() => {
      if (!connection.attached) this.refuse(connection, 'hello', `no hello within ${this.options.helloTimeoutMs ?? 2000} ms`);
    }, this.options.helloTimeoutMs ?? 2000);
    socket.on('data', (chunk: Buffer) => {
      if (connection.closed) return;
      try {
        connection.reader.push(chunk);
      } catch (error) {
        this.options.diagnose?.(`connection failed: ${(error as Error).stack ?? error}`);
        connection.close();
      }
    });
    socket.on('error', () => connection.close());
    socket.on('close', () => {
      clearTimeout(helloTimer);
      connection.closed = true;
      this.connections.delete(connection);
      if (this.host === connection) {
        this.host = undefined;
        this.hostGone(true);
      }
    });
  }

  private refuse(connection: HostConnection, reason: Refused['reason'], detail: string): void {
    this.options.diagnose?.(`refused a connection (${reason}): ${detail}`);
    connection.send({ t: 'refused', reason } satisfies Refused);
    connection.socket.end();
    connection.closed = true;
    setTimeout(() => connection.socket.destroy(), 1000).unref();
  }

  private handleLine(connection: HostConnection, line: string): void {
    if (!connection.attached) return this.hello(connection, line);
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.options.diagnose?.(`bad request dropped: ${parsed.error}`);
      return;
    }
    void this.run(connection, parsed.value);
  }

  private hello(connection: HostConnection, line: string): void {
    const parsed = parseHello(line);
    if (!parsed.ok) return this.refuse(connection, 'hello', parsed.error);
    const token = Buffer.from(parsed.value.token);
    if (token.length !== this.token.length || !timingSafeEqual(token, this.token)) return this.refuse(connection, 'token', 'wrong token');
    if (parsed.value.v !== SUPERVISOR_PROTOCOL_VERSION) return this.refuse(connection, 'version', `protocol ${parsed.value.v}`);
    if (this.host && !this.host.closed) return this.refuse(connection, 'busy', `host ${this.host.hostPid} is attached`);
    if (this.finishing) return this.refuse(connection, 'busy', 'exiting');
    connection.attached = true;
    this.everAttached = true;
    connection.hostPid = parsed.value.hostPid;
    connection.reader.maxBytes = MAX_LINE_BYTES;
    this.host = connection;
    clearTimeout(this.graceTimer);
    clearTimeout(this.idleTimer);
    const state = this.supervisor.state;
    const adopted = state.roots().filter((row) => state.treeAlive(row.id)).length;
    connection.send({ t: 'welcome', v: SUPERVISOR_PROTOCOL_VERSION, pid: process.pid, owner: this.supervisor.owner, adopted });
    connection.send({ t: 'ev', e: { type: 'snapshot', image: state.image() } satisfies ProcessEvent });
    for (const record of this.records) connection.send({ t: 'ev', e: record });
  }

  private async run(connection: HostConnection, request: Request): Promise<void> {
    try {
      const value = await this.perform(connection, request);
      connection.send({ t: 'res', rid: request.rid, ok: true, value: value ?? null });
    } catch (error) {
      connection.send({ t: 'res', rid: request.rid, ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }

  private perform(connection: HostConnection, request: Request): unknown {
    const supervisor = this.supervisor;
    switch (request.op) {
      case 'configure': {
        if (isObject(request.settings)) supervisor.configure(pickSettings(request.settings));
        if (isObject(request.baseEnv)) supervisor.setBaseEnv(stringsOnly(request.baseEnv));
        return undefined;
      }
      case 'seed':
        if (!isObject(request.image) || !Array.isArray((request.image as { rows?: unknown }).rows)) throw new Error('seed: expected a state image');
        supervisor.seed(request.image as unknown as StateImage);
        return undefined;
      case 'start':
        return supervisor.start(startRequest(request.request));
      case 'restart':
        return supervisor.restart(request.id, request.request === undefined ? undefined : startRequest(request.request));
      case 'terminate':
        if (request.signal !== 'SIGTERM' && request.signal !== 'SIGKILL') throw new Error(`terminate: unknown signal ${describeValue(request.signal)}`);
        return supervisor.terminate(request.id, request.signal);
      case 'stopAll':
        return supervisor.stopAll();
      case 'clear':
        return supervisor.clearExited();
      case 'note':
        if (!isObject(request.event)) throw new Error('note: expected an event');
        supervisor.note(request.event as unknown as ProcessEvent);
        return undefined;
      case 'poll':
        return supervisor.poll();
      case 'detach':
        // The host is leaving (deactivate): from now on this is as if it had gone.
        if (this.host === connection) {
          this.host = undefined;
          connection.attached = false;
          this.hostGone(true);
        }
        return undefined;
      case 'ping':
        return 'pong';
    }
  }

  /**
   * The host went away (reload, window closed, crash): daemons are terminated at once, as when multiprocessing's main
   * program exits; the rest wait for a host to come back within reattachGraceMs, then the exit rules run.
   */
  private hostGone(announce: boolean): void {
    if (this.finishing) return;
    if (announce) {
      this.supervisor.log(LEVELS.INFO, MAIN_PROCESS, 'the editor window went away: daemons are terminated, the other processes wait to be re-adopted');
      void this.supervisor.terminateDaemons().then(() => this.checkIdle());
    }
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => void this.finish('no host came back'), this.supervisor.currentSettings.reattachGraceMs);
    this.checkIdle();
  }

  /** Nothing to watch and no host: exit after a moment (a reloading window may still attach). */
  private checkIdle(): void {
    if (this.host || this.finishing || this.supervisor.busy || !this.everAttached) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
      return;
    }
    this.idleTimer ??= setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.host && !this.supervisor.busy) void this.finish('nothing left to watch');
    }, IDLE_EXIT_MS);
  }

  /** The exit rules, then the end. */
  async finish(reason: string): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    clearTimeout(this.graceTimer);
    clearTimeout(this.idleTimer);
    this.options.diagnose?.(`finishing: ${reason}`);
    try {
      await this.supervisor.exitRules();
    } finally {
      this.options.onExit(reason);
    }
  }

  private relay(event: ProcessEvent): void {
    if (event.type === 'record') {
      this.records.push(event);
      if (this.records.length > RECORDS_KEPT) this.records.splice(0, this.records.length - RECORDS_KEPT);
    }
    const host = this.host;
    if (!host) return;
    if ((event.type === 'exited' || event.type === 'settled') && this.output.has(event.id)) this.flushOutput(event.id);
    host.send({ t: 'ev', e: event });
  }

  private queueOutput({ id, stream, parts, bytes }: OutputLines): void {
    if (!this.host) return;
    let pending = this.output.get(id);
    if (pending && pending.stream !== stream) {
      this.flushOutput(id);
      pending = undefined;
    }
    if (!pending) {
      pending = { stream, parts: [], bytes: 0, skipped: 0 };
      this.output.set(id, pending);
    }
    if (pending.bytes + bytes <= OUTPUT_BYTES_PER_FLUSH && this.relayUsed + bytes <= RELAY_BYTES) {
      const relay = (this.relayBuffer ??= Buffer.allocUnsafeSlow(RELAY_BYTES));
      const start = this.relayUsed;
      for (const part of parts) this.relayUsed += part.copy(relay, this.relayUsed);
      pending.parts.push(relay.subarray(start, this.relayUsed));
      pending.bytes += bytes;
    } else {
      pending.skipped += bytes;
    }
    this.outputTimer ??= setTimeout(() => {
      this.outputTimer = undefined;
      for (const pendingId of [...this.output.keys()]) this.flushOutput(pendingId);
    }, OUTPUT_FLUSH_MS);
  }

  private flushOutput(id: string): void {
    const pending = this.output.get(id);
    this.output.delete(id);
    if (this.output.size === 0) this.relayUsed = 0;
    if (!pending || !this.host) return;
    if (this.host.backlog > MAX_HOST_BACKLOG_BYTES) {
      this.host.send({ t: 'out', id, stream: pending.stream, text: '', skipped: pending.skipped + pending.bytes });
      return;
    }
    // Each part is whole lines: decoded apart, no character is split.
    const text = pending.parts.length === 1 ? pending.parts[0].toString('utf8') : pending.parts.map((part) => part.toString('utf8')).join('');
    this.host.send({ t: 'out', id, stream: pending.stream, text, skipped: pending.skipped });
  }

  close(): void {
    clearTimeout(this.graceTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.outputTimer);
    for (const subscription of this.subscriptions) subscription.dispose();
    for (const connection of this.connections) connection.close();
    this.server?.close();
    rmSync(this.options.socketPath, { force: true });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SETTING_KEYS: readonly (keyof SupervisorSettings)[] = ['killTimeoutMs', 'shutdownJoinTimeoutMs', 'pollIntervalMs', 'outputBufferBytes', 'reattachGraceMs', 'logLevel'];

function pickSettings(input: Record<string, unknown>): Partial<SupervisorSettings> {
  const settings: Partial<SupervisorSettings> = {};
  for (const key of SETTING_KEYS) {
    const value = input[key];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) settings[key] = value;
  }
  return settings;
}

function stringsOnly(input: Record<string, unknown>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(input)) if (typeof value === 'string') env[key] = value;
  return env;
}

function startRequest(input: unknown): StartRequest {
  if (!isObject(input)) throw new Error(`Expected a start request, got ${describeValue(input)}`);
  if (typeof input.cwd !== 'string') throw new Error(`Expected \`cwd\` of a start request to be a string, got ${describeValue(input.cwd)}`);
  return {
    spec: input.spec,
    cwd: input.cwd,
    definition: typeof input.definition === 'string' ? input.definition : undefined,
    folder: typeof input.folder === 'string' ? input.folder : undefined,
    policy: input.policy,
  };
}
