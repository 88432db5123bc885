// The wire format between the extension host and its supervisor: JSON lines over a private unix socket.
//
// host → supervisor:  {"t":"hello","token":T,"v":1,"hostPid":P}, then {"t":"req","rid":N,"op":OP,…args}
// supervisor → host:  {"t":"welcome",…} or {"t":"refused","reason":R}, then events {"t":"ev","e":EVENT},
//                     output {"t":"out","id":ID,"stream":S,"text":LINES,"skipped":BYTES}, replies {"t":"res","rid":N,…}
// Replies and events share the socket in order: when a reply arrives, every event its request caused is already in.
import type { ProcessEvent } from '../model/events';

export const SUPERVISOR_PROTOCOL_VERSION = 1;
/** Longest line accepted before the hello (a hello is small; anything longer is not a host of ours). */
export const MAX_HELLO_BYTES = 4096;
/** Longest line accepted after it (a seed or a snapshot of a big state). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export type RequestOp = 'configure' | 'seed' | 'start' | 'restart' | 'terminate' | 'stopAll' | 'clear' | 'note' | 'poll' | 'detach' | 'ping';
export const REQUEST_OPS: readonly RequestOp[] = ['configure', 'seed', 'start', 'restart', 'terminate', 'stopAll', 'clear', 'note', 'poll', 'detach', 'ping'];

export interface Hello {
  t: 'hello';
  token: string;
  v: number;
  hostPid: number;
}

export interface Request {
  t: 'req';
  rid: number;
  op: RequestOp;
  [arg: string]: unknown;
}

export interface Welcome {
  t: 'welcome';
  v: number;
  pid: number;
  owner: string;
  /** Live processes the host takes over (0 for a new supervisor). */
  adopted: number;
}

export interface Refused {
  t: 'refused';
  /** `busy`: another host is attached (another window); `version`: a supervisor of another protocol. */
  reason: 'busy' | 'version' | 'token' | 'hello';
}

export interface EventMessage {
  t: 'ev';
  e: ProcessEvent;
}

export interface OutputMessage {
  t: 'out';
  id: string;
  stream: number;
  text: string;
  /** Bytes of output left out of this message because the process printed faster than the host is told. */
  skipped: number;
}

export type Reply = { t: 'res'; rid: number; ok: true; value: unknown } | { t: 'res'; rid: number; ok: false; error: string };

export type SupervisorMessage = Welcome | Refused | EventMessage | OutputMessage | Reply;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function object(line: string): Parsed<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, error: 'invalid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'not a JSON object' };
  return { ok: true, value: value as Record<string, unknown> };
}

/** The first line a host sends, or why it is not one. */
export function parseHello(line: string): Parsed<Hello> {
  const parsed = object(line);
  if (!parsed.ok) return parsed;
  const { t, token, v, hostPid } = parsed.value;
  if (t !== 'hello') return { ok: false, error: 'first line is not a hello' };
  if (typeof token !== 'string' || token.length === 0 || token.length > 256) return { ok: false, error: 'hello: bad token field' };
  if (!Number.isSafeInteger(v)) return { ok: false, error: 'hello: bad version field' };
  if (!Number.isSafeInteger(hostPid) || (hostPid as number) <= 0) return { ok: false, error: 'hello: bad hostPid field' };
  return { ok: true, value: { t, token, v: v as number, hostPid: hostPid as number } };
}

/** A request after the hello, or why it is not one (its arguments are checked by the operation itself). */
export function parseRequest(line: string): Parsed<Request> {
  const parsed = object(line);
  if (!parsed.ok) return parsed;
  const message = parsed.value;
  if (message.t !== 'req') return { ok: false, error: `not a request: t is ${JSON.stringify(message.t)}` };
  if (!Number.isSafeInteger(message.rid)) return { ok: false, error: 'request: bad rid field' };
  if (!REQUEST_OPS.includes(message.op as RequestOp)) return { ok: false, error: `request: unknown op ${JSON.stringify(message.op)}` };
  return { ok: true, value: message as Request };
}

/** A message from the supervisor (our own process, but a line is still checked before it is trusted). */
export function parseSupervisorMessage(line: string): Parsed<SupervisorMessage> {
  const parsed = object(line);
  if (!parsed.ok) return parsed;
  const message = parsed.value;
  switch (message.t) {
    case 'welcome':
    case 'refused':
    case 'res':
    case 'out':
      return { ok: true, value: message as unknown as SupervisorMessage };
    case 'ev':
      if (typeof message.e !== 'object' || message.e === null || typeof (message.e as { type?: unknown }).type !== 'string') {
        return { ok: false, error: 'event without a type' };
      }
      return { ok: true, value: message as unknown as EventMessage };
    default:
      return { ok: false, error: `unknown message ${JSON.stringify(message.t)}` };
  }
}

/** Splits a byte stream into lines, refusing any longer than `maxBytes` (the caller closes the connection then). */
export class LineReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    public maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverlong: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(10, start);
      if (newline === -1) break;
      const length = this.pendingBytes + newline - start;
      if (length > this.maxBytes) return this.onOverlong();
      const piece = chunk.subarray(start, newline);
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece], length);
      this.pending = [];
      this.pendingBytes = 0;
      start = newline + 1;
      if (line.length > 0) this.onLine(line.toString('utf8'));
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxBytes) return this.onOverlong();
      this.pending.push(Buffer.from(chunk.subarray(start)));
    }
  }
}

export function encode(message: object): string {
  return `${JSON.stringify(message)}\n`;
}
