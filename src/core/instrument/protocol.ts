// The wire format spoken by src/python/_procscope/agent.py: JSON lines, each field checked, since every byte is untrusted.
import { levelName } from '../levels';
import { sanitizeMessage, sanitizeName } from './sanitize';

export const PROTOCOL_VERSION = 1;
/** Longest accepted line, in bytes, without its newline (the helper keeps each line, newline included, within it). */
export const MAX_LINE_BYTES = 64 * 1024;

/** The variables InstrumentServer.register() returns for one launch, to be merged into its environment (see pythonEnv). */
export type InstrumentEnv = {
  PROCSCOPE_SOCKET: string;
  PROCSCOPE_TOKEN: string;
};

export type StartMethod = 'fork' | 'spawn' | 'forkserver';
const START_METHODS: readonly string[] = ['fork', 'spawn', 'forkserver'];

/** `{"t":"hello","token":…,"pid":…,"v":1}`: the first line of every connection. */
export interface Hello {
  token: string;
  pid: number;
  version: number;
}

/** `{"t":"start",…}`, sent by the parent once `Process.start()` has a pid. */
export interface ProcessStarted {
  pid: number;
  /** os.getpid() of the process that called start(): the logical parent, also for forkserver children. */
  ppid: number;
  name: string;
  daemon: boolean;
  method: StartMethod;
  /** Epoch milliseconds: the line's `time`, or when it was read if it has none. */
  time: number;
  /** What it is in multiprocessing's machinery, told by the function it runs (a ProcessPoolExecutor's worker). */
  role?: 'pool-worker' | 'manager';
}

/** `{"t":"exit",…}`, sent by the parent when it first observes the exit code (-N: killed by signal N). */
export interface ProcessExited {
  pid: number;
  code: number;
}

/** `{"t":"log",…}`: one record of multiprocessing's logger, formatted as `[levelName/processName] message`. */
export interface LogRecord {
  pid: number;
  level: number;
  levelName: string;
  processName: string;
  message: string;
}

/** `{"t":"sync",…}`: a Lock, RLock, Semaphore or BoundedSemaphore of the program was created, at `site`. */
export interface SyncCreated {
  pid: number;
  id: string;
  kind: string;
  site: string;
}

/** `{"t":"hold",…}`: the sender acquired lock `id` (reported for its first acquisition). */
export interface SyncHeld {
  pid: number;
  id: string;
}

/** `{"t":"wait",…}`: the sender starts a call that blocks on object `id`, holding the locks `holds`. */
export interface SyncWait {
  pid: number;
  id: string;
  kind: string;
  /** The object's creation site (or, for Process.join, the call's), where the sender knows it; else empty. */
  site: string;
  holds: string[];
  /** For Process.join: the pid of the process joined. */
  target: number | undefined;
  time: number;
}

/** `{"t":"woke",…}`: the sender's wait on `id` ended; `acquired`: it now holds that lock. */
export interface SyncWoke {
  pid: number;
  id: string;
  acquired: boolean;
}

export type SyncMessage =
  | { type: 'sync'; value: SyncCreated }
  | { type: 'hold'; value: SyncHeld }
  | { type: 'wait'; value: SyncWait }
  | { type: 'woke'; value: SyncWoke };

export type Message =
  | { type: 'start'; value: ProcessStarted }
  | { type: 'exit'; value: ProcessExited }
  | { type: 'log'; value: LogRecord }
  | SyncMessage;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

type Fields = Record<string, unknown>;

const MAX_PID = 0xffffffff;
const MAX_TOKEN_LENGTH = 256;
/** Longest accepted object id and kind, and most locks one wait may list as held. */
const MAX_SYNC_ID_LENGTH = 256;
const MAX_SYNC_KIND_LENGTH = 64;
const MAX_HOLDS = 256;
const SYNC_KINDS: readonly string[] = [
  'Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Condition', 'Event', 'Barrier',
  'Queue.get', 'Queue.put', 'JoinableQueue.join', 'Process.join',
];

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

function parseObject(line: string): Parsed<Fields> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail('invalid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  return { ok: true, value: value as Fields };
}

function isPid(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0 && (value as number) <= MAX_PID;
}

type Checks = ReadonlyArray<readonly [string, (value: unknown) => boolean]>;

/** The first field that is missing or of the wrong type, described for a warning, or undefined if all are right. */
function wrongField(fields: Fields, checks: Checks): string | undefined {
  for (const [name, check] of checks) {
    if (!check(fields[name])) return `field "${name}" is missing or has the wrong type`;
  }
  return undefined;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isInteger = (value: unknown): value is number => Number.isSafeInteger(value);

const HELLO_FIELDS: Checks = [
  ['token', (v) => isString(v) && v.length > 0 && v.length <= MAX_TOKEN_LENGTH],
  ['pid', isPid],
  ['v', isInteger],
];
const START_FIELDS: Checks = [
  ['pid', isPid],
  ['ppid', isPid],
  ['name', isString],
  ['daemon', isBoolean],
  ['method', (v) => isString(v) && START_METHODS.includes(v)],
  ['time', (v) => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v >= 0)],
];
const EXIT_FIELDS: Checks = [['pid', isPid], ['code', isInteger]];
const LOG_FIELDS: Checks = [
  ['pid', isPid],
  ['level', (v) => isInteger(v) && v > 0 && v <= 1000],
  ['levelname', isString],
  ['process', isString],
  ['msg', isString],
];

const isSyncId = (v: unknown): v is string => isString(v) && v.length > 0 && v.length <= MAX_SYNC_ID_LENGTH && !/[\s\p{Cc}]/u.test(v);
const isSyncKind = (v: unknown): v is string => isString(v) && v.length <= MAX_SYNC_KIND_LENGTH && SYNC_KINDS.includes(v);
const isHolds = (v: unknown): v is string => isString(v) && v.split(' ').filter(Boolean).length <= MAX_HOLDS && v.split(' ').every((id) => id === '' || isSyncId(id));

const SYNC_FIELDS: Checks = [['pid', isPid], ['id', isSyncId], ['kind', isSyncKind], ['site', isString]];
const HOLD_FIELDS: Checks = [['pid', isPid], ['id', isSyncId]];
const WAIT_FIELDS: Checks = [
  ['pid', isPid],
  ['id', isSyncId],
  ['kind', isSyncKind],
  ['site', isString],
  ['holds', isHolds],
  ['target', (v) => isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_PID],
  ['time', (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0],
];
const WOKE_FIELDS: Checks = [['pid', isPid], ['id', isSyncId], ['acquired', isBoolean]];

/** A synchronisation report (sync, hold, wait, woke), or why it was dropped. */
function parseSync(fields: Fields): Parsed<SyncMessage> {
  switch (fields.t) {
    case 'sync': {
      const wrong = wrongField(fields, SYNC_FIELDS);
      if (wrong) return fail(`sync: ${wrong}`);
      return { ok: true, value: { type: 'sync', value: { pid: fields.pid as number, id: fields.id as string, kind: fields.kind as string, site: sanitizeName(fields.site as string, 512) } } };
    }
    case 'hold': {
      const wrong = wrongField(fields, HOLD_FIELDS);
      if (wrong) return fail(`hold: ${wrong}`);
      return { ok: true, value: { type: 'hold', value: { pid: fields.pid as number, id: fields.id as string } } };
    }
    case 'wait': {
      const wrong = wrongField(fields, WAIT_FIELDS);
      if (wrong) return fail(`wait: ${wrong}`);
      const target = fields.target as number;
      return {
        ok: true,
        value: {
          type: 'wait',
          value: {
            pid: fields.pid as number,
            id: fields.id as string,
            kind: fields.kind as string,
            site: sanitizeName(fields.site as string, 512),
            holds: (fields.holds as string).split(' ').filter(Boolean),
            target: target > 0 ? target : undefined,
            time: fields.time as number,
          },
        },
      };
    }
    default: {
      const wrong = wrongField(fields, WOKE_FIELDS);
      if (wrong) return fail(`woke: ${wrong}`);
      return { ok: true, value: { type: 'woke', value: { pid: fields.pid as number, id: fields.id as string, acquired: fields.acquired as boolean } } };
    }
  }
}

/** The hello line, or why it is not one. */
export function parseHello(line: string): Parsed<Hello> {
  const parsed = parseObject(line);
  if (!parsed.ok) return parsed;
  const fields = parsed.value;
  if (fields.t !== 'hello') return fail('first line is not a hello');
  const wrong = wrongField(fields, HELLO_FIELDS);
  if (wrong) return fail(`hello: ${wrong}`);
  if (fields.v !== PROTOCOL_VERSION) return fail(`hello: unsupported protocol version ${String(fields.v)}`);
  return { ok: true, value: { token: fields.token as string, pid: fields.pid as number, version: fields.v as number } };
}

/** A message after the hello, validated and with its strings sanitised, or why it was dropped. */
export function parseMessage(line: string): Parsed<Message> {
  const parsed = parseObject(line);
  if (!parsed.ok) return parsed;
  const fields = parsed.value;
  switch (fields.t) {
    case 'start': {
      const wrong = wrongField(fields, START_FIELDS);
      if (wrong) return fail(`start: ${wrong}`);
      return {
        ok: true,
        value: {
          type: 'start',
          value: {
            pid: fields.pid as number,
            ppid: fields.ppid as number,
            name: sanitizeName(fields.name as string),
            daemon: fields.daemon as boolean,
            method: fields.method as StartMethod,
            // The helper sends a start as it happens, without a time of its own (it would cost the program a float
            // made just after a fork): then the time it is read is its time.
            time: (fields.time as number | undefined) ?? Date.now(),
            ...(fields.role === 'pool-worker' || fields.role === 'manager' ? { role: fields.role } : {}),
          },
        },
      };
    }
    case 'exit': {
      const wrong = wrongField(fields, EXIT_FIELDS);
      if (wrong) return fail(`exit: ${wrong}`);
      return { ok: true, value: { type: 'exit', value: { pid: fields.pid as number, code: fields.code as number } } };
    }
    case 'log': {
      const wrong = wrongField(fields, LOG_FIELDS);
      if (wrong) return fail(`log: ${wrong}`);
      const level = fields.level as number;
      return {
        ok: true,
        value: {
          type: 'log',
          value: {
            pid: fields.pid as number,
            level,
            // From our own table, not the wire: a record's label cannot be made to say anything else.
            levelName: levelName(level),
            processName: sanitizeName(fields.process as string),
            message: sanitizeMessage(fields.msg as string),
          },
        },
      };
    }
    case 'sync':
    case 'hold':
    case 'wait':
    case 'woke':
      return parseSync(fields);
    case 'hello':
      return fail('hello sent twice');
    default:
      return fail(typeof fields.t === 'string' ? `unknown message type "${sanitizeName(fields.t, 32)}"` : 'field "t" is missing');
  }
}
