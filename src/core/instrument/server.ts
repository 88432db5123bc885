// The private local socket that Python helpers report to: one token per launch, every line validated, nothing trusted.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Emitter, type Disposable, type Event } from '../event';
import { RejectionLog, REJECTION_SPELL_MS } from './rejections';
import {
  MAX_LINE_BYTES, parseHello, parseMessage, type InstrumentEnv, type LogRecord, type ProcessExited, type ProcessStarted,
  type SyncMessage,
} from './protocol';

export interface PythonProcessStarted extends ProcessStarted {
  launchId: string;
}
export interface PythonProcessExited extends ProcessExited {
  launchId: string;
}
export interface PythonLogRecord extends LogRecord {
  launchId: string;
}
/** A report on a synchronisation object (created, held, waited on, woken from), from the process named in it. */
export type PythonSyncReport = SyncMessage & { launchId: string };

export interface InstrumentServerOptions {
  /** Open connections allowed at once; more are refused with a warning. Default 2048. */
  maxConnections?: number;
  /** A connection must send its hello within this time. Default 2000 ms (the helper sends it as it connects). */
  helloTimeoutMs?: number;
  /** Connections still before their hello allowed at once; past it the oldest is closed. Default 64. */
  maxUnauthenticated?: number;
  /** How long a spell of refused connections is summed up in one warning. Default 10000 ms. */
  rejectionSpellMs?: number;
  /** Malformed lines tolerated on one connection before it is closed. Default 20. */
  maxWarningsPerConnection?: number;
  /** Records below this level are dropped; 0 (NOTSET) drops them all. Default 20 (INFO). */
  level?: number;
  /** Where the private directory is created. Default os.tmpdir(). */
  tmpdir?: string;
  platform?: NodeJS.Platform;
}

// sun_path holds 104 bytes on macOS, 108 on Linux.
const MAX_SOCKET_PATH = 100;

/** One client: the Python process that opened it (known by its hello), and the children multiprocessing forks from it. */
class Connection {
  launchId: string | undefined;
  pid = 0;
  warnings = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly onLine: (connection: Connection, line: string) => void,
    private readonly onOverlong: (connection: Connection) => void,
  ) {}

  get isClosed(): boolean {
    return this.closed || this.socket.destroyed;
  }

  close(): void {
    this.closed = true;
    this.pending = [];
    this.socket.destroy();
  }

  /** Split a chunk into lines, keeping any unfinished one; a line longer than the cap closes the connection. */
  receive(chunk: Buffer): void {
    if (this.isClosed) return;
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(10, start);
      if (newline === -1) break;
      const length = this.pendingBytes + newline - start;
      if (length > MAX_LINE_BYTES) return this.onOverlong(this);
      const piece = chunk.subarray(start, newline);
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece], length);
      this.pending = [];
      this.pendingBytes = 0;
      start = newline + 1;
      if (line.length > 0) this.onLine(this, line.toString('utf8'));
      if (this.isClosed) return;
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > MAX_LINE_BYTES) return this.onOverlong(this);
      this.pending.push(chunk.subarray(start));
    }
  }

  readonly openedAt = Date.now();

  describe(): string {
    return this.launchId === undefined ? 'a connection before its hello' : `${this.launchId} (pid ${this.pid})`;
  }
}

/**
 * Listens on a unix socket in a fresh 0700 directory (a named pipe on Windows) for the Python helper's reports,
 * and turns the lines of registered launches into typed events.
 */
export class InstrumentServer implements Disposable {
  private readonly startEmitter = new Emitter<PythonProcessStarted>();
  private readonly exitEmitter = new Emitter<PythonProcessExited>();
  private readonly logEmitter = new Emitter<PythonLogRecord>();
  private readonly syncEmitter = new Emitter<PythonSyncReport>();
  private readonly warningEmitter = new Emitter<string>();
  private readonly idleEmitter = new Emitter<void>();

  /** A multiprocessing.Process was started (reported by its parent). */
  readonly onDidStart: Event<PythonProcessStarted> = this.startEmitter.event;
  /** A multiprocessing.Process's exit was observed by its parent. */
  readonly onDidExit: Event<PythonProcessExited> = this.exitEmitter.event;
  /** A record of multiprocessing's logger, at or above the current level. */
  readonly onDidLog: Event<PythonLogRecord> = this.logEmitter.event;
  /** A process created, acquired, started or stopped waiting on a synchronisation object. */
  readonly onDidSync: Event<PythonSyncReport> = this.syncEmitter.event;
  /** Something malformed or refused; the text is safe to log at WARNING. */
  readonly onWarning: Event<string> = this.warningEmitter.event;

  private readonly options: Required<Omit<InstrumentServerOptions, 'level'>>;
  private currentLevel: number;
  private server: net.Server | undefined;
  private directory: string | undefined;
  private socketPath: string | undefined;
  private readonly launchByToken = new Map<string, string>();
  private readonly tokenByLaunch = new Map<string, string>();
  private readonly connections = new Set<Connection>();
  private disposed = false;
  private readonly rejections: RejectionLog;

  constructor(options: InstrumentServerOptions = {}) {
    this.options = {
      maxConnections: options.maxConnections ?? 2048,
      helloTimeoutMs: options.helloTimeoutMs ?? 2000,
      maxUnauthenticated: options.maxUnauthenticated ?? 64,
      rejectionSpellMs: options.rejectionSpellMs ?? REJECTION_SPELL_MS,
      maxWarningsPerConnection: options.maxWarningsPerConnection ?? 20,
      tmpdir: options.tmpdir ?? os.tmpdir(),
      platform: options.platform ?? process.platform,
    };
    this.currentLevel = checkLevel(options.level ?? 20);
    this.rejections = new RejectionLog((message) => this.warn(message), this.options.rejectionSpellMs);
  }

  /** The socket (or pipe) path, once something has been registered. */
  get path(): string | undefined {
    return this.socketPath;
  }

  get level(): number {
    return this.currentLevel;
  }

  /** Drop records below `level` from now on (0 drops all). The helper's own level is fixed per launch by its env. */
  setLevel(level: number): void {
    this.currentLevel = checkLevel(level);
  }

  /** Start listening if needed and return the variables for one launch, with a fresh token. Throws if it cannot listen. */
  register(launchId: string): InstrumentEnv {
    if (this.disposed) throw new Error('InstrumentServer is disposed');
    const socketPath = this.listen();
    const old = this.tokenByLaunch.get(launchId);
    if (old !== undefined) this.launchByToken.delete(old);
    const token = randomBytes(16).toString('hex');
    this.launchByToken.set(token, launchId);
    this.tokenByLaunch.set(launchId, token);
    return { PROCSCOPE_SOCKET: socketPath, PROCSCOPE_TOKEN: token };
  }

  /**
   * Refuse new connections for this launch. Connections already open keep reporting until their process closes
   * them, so the last exit codes of a program that has just ended are not lost (see whenIdle).
   */
  unregister(launchId: string): void {
    const token = this.tokenByLaunch.get(launchId);
    if (token === undefined) return;
    this.tokenByLaunch.delete(launchId);
    this.launchByToken.delete(token);
  }

  /** How many connections are open, those before their hello included. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** How many connections of this launch are open. */
  openConnections(launchId: string): number {
    let count = 0;
    for (const connection of this.connections) if (connection.launchId === launchId) count++;
    return count;
  }

  /**
   * Resolves true once no connection of `launchId` (nor one still before its hello) is open, false after `timeoutMs`.
   * Call it when a launched Python program exits, before trusting that every report has arrived.
   */
  async whenIdle(launchId: string, timeoutMs = 1000): Promise<boolean> {
    // Let connections already queued by the kernel be accepted and read first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    const busy = () => [...this.connections].some((c) => c.launchId === launchId || c.launchId === undefined);
    if (!busy()) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const subscription = this.idleEmitter.event(() => {
        if (!busy()) finish(true);
      });
      const finish = (idle: boolean) => {
        clearTimeout(timer);
        subscription.dispose();
        resolve(idle);
      };
    });
  }

  /** Close the server and every connection, and remove the private directory. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rejections.flush();
    for (const connection of this.connections) connection.close();
    this.connections.clear();
    this.server?.close();
    this.server = undefined;
    if (this.directory !== undefined) rmSync(this.directory, { recursive: true, force: true });
    this.directory = undefined;
    this.launchByToken.clear();
    this.tokenByLaunch.clear();
    this.idleEmitter.fire();
    for (const emitter of [this.startEmitter, this.exitEmitter, this.logEmitter, this.syncEmitter, this.warningEmitter, this.idleEmitter]) {
      emitter.dispose();
    }
  }

  /** Bind and listen synchronously (net binds inside listen()), so a client started right after can connect. */
  private listen(): string {
    if (this.socketPath !== undefined) return this.socketPath;
    let socketPath: string;
    if (this.options.platform === 'win32') {
      socketPath = `\\\\.\\pipe\\procscope-${process.pid}-${randomBytes(8).toString('hex')}`;
    } else {
      let base = this.options.tmpdir;
      if (path.join(base, 'procscope-XXXXXX', 'sock').length > MAX_SOCKET_PATH) base = '/tmp';
      this.directory = mkdtempSync(path.join(base, 'procscope-'));
      chmodSync(this.directory, 0o700);
      socketPath = path.join(this.directory, 'sock');
    }
    // Half-open allowed so a client's EOF leads straight to destroy(): we never write, so end() would be wasted work.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    server.on('error', (error) => this.warn(`instrumentation socket failed: ${error.message}`));
    server.listen(socketPath);
    this.server = server;
    this.socketPath = socketPath;
    return socketPath;
  }

  private accept(socket: net.Socket): void {
    // Silent clients must not crowd out the helper, which says hello as it connects: past either cap, the oldest
    // connection still before its hello makes room. Only when every connection is a known launch's is one refused.
    const unauthenticated = [...this.connections].filter((c) => c.launchId === undefined);
    if (unauthenticated.length >= this.options.maxUnauthenticated || this.connections.size >= this.options.maxConnections) {
      const oldest = unauthenticated.reduce<Connection | undefined>((a, c) => (a === undefined || c.openedAt < a.openedAt ? c : a), undefined);
      if (oldest) {
        this.reject(oldest, 'no hello while others waited; connection closed');
      } else {
        this.rejections.refused(`instrumentation: more than ${this.options.maxConnections} connections: a new one was refused`);
        socket.destroy();
        return;
      }
    }
    const connection = new Connection(
      socket,
      (c, line) => this.handleLine(c, line),
      (c) => (c.launchId === undefined ? this.reject(c, `line longer than ${MAX_LINE_BYTES} bytes; connection closed`) : this.drop(c, `line longer than ${MAX_LINE_BYTES} bytes`)),
    );
    this.connections.add(connection);
    const helloTimer = setTimeout(() => {
      if (connection.launchId === undefined) this.reject(connection, `no hello within ${this.options.helloTimeoutMs} ms; connection closed`);
    }, this.options.helloTimeoutMs);
    helloTimer.unref();
    socket.on('data', (chunk: Buffer) => {
      try {
        connection.receive(chunk);
      } catch (error) {
        this.drop(connection, `internal error: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
    socket.on('end', () => connection.close());
    socket.on('error', () => connection.close());
    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.connections.delete(connection);
      this.idleEmitter.fire();
    });
  }

  private handleLine(connection: Connection, line: string): void {
    if (connection.launchId === undefined) {
      const hello = parseHello(line);
      if (!hello.ok) return this.reject(connection, `${hello.error}; connection closed`);
      const launchId = this.launchByToken.get(hello.value.token);
      if (launchId === undefined) return this.reject(connection, `hello from pid ${hello.value.pid} with an unknown token; connection closed`);
      connection.launchId = launchId;
      connection.pid = hello.value.pid;
      this.idleEmitter.fire();
      return;
    }
    const parsed = parseMessage(line);
    if (!parsed.ok) return this.complain(connection, parsed.error);
    // Every line names the process it is about: the connection is its launch's, not one process's (on Linux a child
    // forked by multiprocessing speaks on its parent's connection).
    const { launchId } = connection;
    const message = parsed.value;
    switch (message.type) {
      case 'start':
        this.startEmitter.fire({ launchId, ...message.value });
        break;
      case 'exit':
        this.exitEmitter.fire({ launchId, ...message.value });
        break;
      case 'log':
        if (this.currentLevel > 0 && message.value.level >= this.currentLevel) this.logEmitter.fire({ launchId, ...message.value });
        break;
      default:
        this.syncEmitter.fire({ launchId, ...message } as PythonSyncReport);
        break;
    }
  }

  /** Drop one bad line; too many from one connection close it. */
  private complain(connection: Connection, reason: string): void {
    connection.warnings++;
    if (connection.warnings > this.options.maxWarningsPerConnection) {
      this.drop(connection, `more than ${this.options.maxWarningsPerConnection} malformed lines`);
      return;
    }
    this.warn(`instrumentation: ${connection.describe()}: ${reason}; line dropped`);
  }

  /** Closes a connection that never proved itself; told at most once a spell, however many there are. */
  private reject(connection: Connection, reason: string): void {
    if (connection.isClosed) return;
    connection.close();
    this.rejections.refused(`instrumentation: ${connection.describe()}: ${reason}`);
  }

  private drop(connection: Connection, reason: string): void {
    if (connection.isClosed) return;
    this.warn(`instrumentation: ${connection.describe()}: ${reason}; connection closed`);
    connection.close();
  }

  private warn(message: string): void {
    this.warningEmitter.fire(message);
  }
}

function checkLevel(level: number): number {
  if (!Number.isSafeInteger(level) || level < 0) {
    throw new TypeError(`Expected \`level\` to be a non-negative integer, got ${String(level)} (${typeof level})`);
  }
  return level;
}
