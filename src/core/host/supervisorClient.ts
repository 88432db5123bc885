// The host's end of the supervisor socket: hello, requests with replies, and the supervisor's events and output.
import * as net from 'node:net';
import { Emitter, type Event } from '../event';
import type { ProcessEvent } from '../model/events';
import {
  encode, LineReader, MAX_LINE_BYTES, parseSupervisorMessage, SUPERVISOR_PROTOCOL_VERSION, type OutputMessage, type Refused, type RequestOp, type SupervisorMessage, type Welcome,
} from '../supervisor/protocol';

export type ConnectResult = { client: SupervisorClient; welcome: Welcome } | { refused: Refused['reason'] | 'unreachable'; detail: string };

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export interface ClientHandlers {
  /** Every event the supervisor sends, in order. */
  event(event: ProcessEvent): void;
  /** Output lines of launched processes (throttled by the supervisor). */
  output(message: OutputMessage): void;
}

export class SupervisorClient {
  private readonly closeEmitter = new Emitter<{ expected: boolean }>();
  /** The connection ended; `expected` when we closed it. */
  readonly onClose: Event<{ expected: boolean }> = this.closeEmitter.event;
  private handlers: ClientHandlers | undefined;
  /** What arrived before open(): the snapshot right after the welcome, most of all. */
  private queued: SupervisorMessage[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextRid = 1;
  private closing = false;
  private closedFlag = false;

  private constructor(private readonly socket: net.Socket) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Connects and says hello; resolves with the client and the supervisor's welcome, or why it would not have us. */
  static connect(socketPath: string, token: string, timeoutMs = 5000): Promise<ConnectResult> {
    return new Promise((resolve) => {
      const socket = net.connect(socketPath);
      const client = new SupervisorClient(socket);
      let settled = false;
      const finish = (result: ConnectResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if ('refused' in result) socket.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => finish({ refused: 'unreachable', detail: `no welcome within ${timeoutMs} ms` }), timeoutMs);
      socket.on('error', (error) => finish({ refused: 'unreachable', detail: error.message }));
      socket.on('connect', () => socket.write(encode({ t: 'hello', token, v: SUPERVISOR_PROTOCOL_VERSION, hostPid: process.pid })));
      const reader = new LineReader(MAX_LINE_BYTES, (line) => {
        const parsed = parseSupervisorMessage(line);
        if (!parsed.ok) return;
        const message = parsed.value;
        if (!settled) {
          if (message.t === 'welcome') finish({ client, welcome: message });
          else if (message.t === 'refused') finish({ refused: message.reason, detail: `refused: ${message.reason}` });
          return;
        }
        client.receive(message);
      }, () => socket.destroy());
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      socket.on('close', () => {
        finish({ refused: 'unreachable', detail: 'the connection closed' });
        client.closedNow();
      });
    });
  }

  /** Starts delivering events and output (those that came already first, in order). */
  open(handlers: ClientHandlers): void {
    this.handlers = handlers;
    const queued = this.queued;
    this.queued = [];
    for (const message of queued) this.receive(message);
  }

  private receive(message: SupervisorMessage): void {
    const handlers = this.handlers;
    if (!handlers && (message.t === 'ev' || message.t === 'out')) {
      this.queued.push(message);
      return;
    }
    switch (message.t) {
      case 'ev':
        handlers?.event(message.e);
        return;
      case 'out':
        handlers?.output(message);
        return;
      case 'res': {
        const pending = this.pending.get(message.rid);
        if (!pending) return;
        this.pending.delete(message.rid);
        if (message.ok) pending.resolve(message.value);
        else pending.reject(new Error(message.error));
        return;
      }
      default:
        return;
    }
  }

  private closedNow(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const pending of this.pending.values()) pending.reject(new Error('ProcScope lost its supervisor process'));
    this.pending.clear();
    this.closeEmitter.fire({ expected: this.closing });
  }

  /** Sends a request; resolves with its reply (events it caused have arrived before). */
  request<T = unknown>(op: RequestOp, args: Record<string, unknown> = {}): Promise<T> {
    if (this.closedFlag) return Promise.reject(new Error('ProcScope lost its supervisor process'));
    const rid = this.nextRid++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(rid, { resolve: resolve as (value: unknown) => void, reject });
      this.socket.write(encode({ t: 'req', rid, op, ...args }));
    });
  }

  /** Closes the connection on purpose (onClose reports it as expected). */
  close(): void {
    this.closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 500).unref();
  }

  dispose(): void {
    this.close();
    this.handlers = undefined;
    this.closeEmitter.dispose();
  }
}
