// One process as the state holds it (a row of the tree), the plain-data snapshot derived from it, and the state's image.
import { statusText } from '../status';
import type { ProcessKind, ProcessRole, ProcessSnapshot, ProcessSpec, WaitingOn } from '../types';

/** A finished run of a row that was restarted, or a wait on a synchronisation object: what the timeline draws. */
export interface Span {
  from: number;
  to: number | null;
  /** Exit code of a run; the object's kind for a wait. */
  label: string | number | null;
}

export interface Row {
  id: string;
  name: string;
  kind: ProcessKind;
  role: ProcessRole | undefined;
  /** The launched row at the top of this row's tree (itself, for a launched row). */
  rootId: string;
  parentId: string | null;
  childIds: string[];
  pid: number | null;
  ppid: number | null;
  /** The OS start stamp of `pid`: with it a reused pid is never taken for this process. */
  startTime: number | undefined;
  /** For a multiprocessing child started through the forkserver: the process that forked it. */
  osParentPid: number | undefined;
  daemon: boolean;
  alive: boolean;
  exitCode: number | null;
  startedAt: number;
  endedAt: number | null;
  /** Its last run ended because someone asked it to (terminate, Stop All…), not by itself. */
  stoppedByRequest: boolean;
  command: string;
  args: string[];
  cwd: string | null;
  /** Launched rows: the spec they run, and where their output files are. */
  spec: ProcessSpec | undefined;
  outputDir: string | undefined;
  /** Launched rows: the Python helper is on its PYTHONPATH. */
  instrumented: boolean;
  /** Launched rows: output complete (pipes drained, last reports in). */
  settled: boolean;
  /** Why the helper cannot report this program's children, if known. */
  note: string | undefined;
  /** Python children: fork, spawn or forkserver. */
  startMethod: string | undefined;
  /** Found by the launch's mark after leaving its tree (setsid, double fork). */
  escaped: boolean;
  definition: string | undefined;
  folder: string | undefined;
  restarts: number;
  lastExitCode: number | null | undefined;
  ready: boolean | undefined;
  readyAt: number | undefined;
  /** A state word shown before the row's own (waiting for db (ready), crash loop). */
  phase: string | undefined;
  ports: number[] | undefined;
  cpuPercent: number | undefined;
  rssBytes: number | undefined;
  waitingOn: WaitingOn | null | undefined;
  waitingSince: number | undefined;
  /** Part of a deadlock, or waiting on a lock whose holder died. */
  deadlocked: boolean;
  /** Numbers the next discovered child: Process-1:1, Process-1:2… */
  childCounter: number;
  /** Ended discovered children folded into `+N ended`. */
  foldedEnded: number;
  /** Earlier runs (restarts) and past waits, bounded, for the timeline. */
  runs: Span[];
  waits: Span[];
}

export type ReadonlyRow = Readonly<Omit<Row, 'childIds' | 'args' | 'runs' | 'waits' | 'ports' | 'spec'>> & {
  readonly spec: Readonly<ProcessSpec> | undefined;
  readonly childIds: readonly string[];
  readonly args: readonly string[];
  readonly runs: readonly Span[];
  readonly waits: readonly Span[];
  readonly ports: readonly number[] | undefined;
};

/** A row as it was when removed: what the timeline keeps of processes whose rows were cleared. */
export interface PastRow {
  id: string;
  name: string;
  kind: ProcessKind;
  parentId: string | null;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  daemon: boolean;
  runs: Span[];
  waits: Span[];
  readyAt: number | undefined;
}

/** The whole state as plain data, in row order: sent to a re-adopting host, or to seed a new supervisor. */
export interface StateImage {
  rows: Row[];
  /** How many processes were launched (not restarted): the N of the next Process-N is this + 1. */
  launches: number;
  /** The highest row number handed out (ids are p1, p2…). */
  lastId: number;
  past: PastRow[];
}

export function newRow(fields: Pick<Row, 'id' | 'name' | 'kind' | 'rootId' | 'startedAt'> & Partial<Row>): Row {
  return {
    role: undefined,
    parentId: null,
    childIds: [],
    pid: null,
    ppid: null,
    startTime: undefined,
    osParentPid: undefined,
    daemon: false,
    alive: false,
    exitCode: null,
    endedAt: null,
    stoppedByRequest: false,
    command: '',
    args: [],
    cwd: null,
    spec: undefined,
    outputDir: undefined,
    instrumented: false,
    settled: false,
    note: undefined,
    startMethod: undefined,
    escaped: false,
    definition: undefined,
    folder: undefined,
    restarts: 0,
    lastExitCode: undefined,
    ready: undefined,
    readyAt: undefined,
    phase: undefined,
    ports: undefined,
    cpuPercent: undefined,
    rssBytes: undefined,
    waitingOn: undefined,
    waitingSince: undefined,
    deadlocked: false,
    childCounter: 0,
    foldedEnded: 0,
    runs: [],
    waits: [],
    ...fields,
  };
}

/** The plain-data view of a row (SPEC §6): fields that are not known are left out. */
export function snapshotOf(row: ReadonlyRow): ProcessSnapshot {
  const snapshot: ProcessSnapshot = {
    id: row.id,
    name: row.name,
    pid: row.pid,
    ppid: row.ppid,
    parentId: row.parentId,
    daemon: row.daemon,
    alive: row.alive,
    exitCode: row.exitCode,
    status: statusText(row.alive, row.exitCode, row.pid),
    kind: row.kind,
    command: row.command,
    args: [...row.args],
    cwd: row.cwd,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
  };
  if (row.definition !== undefined) snapshot.definition = row.definition;
  if (row.kind === 'launched') snapshot.restarts = row.restarts;
  if (row.lastExitCode !== undefined) snapshot.lastExitCode = row.lastExitCode;
  if (row.ready !== undefined) snapshot.ready = row.ready;
  if (row.ports !== undefined) snapshot.ports = [...row.ports];
  if (row.role !== undefined) snapshot.role = row.role;
  if (row.waitingOn !== undefined) snapshot.waitingOn = row.waitingOn === null ? null : { ...row.waitingOn };
  return snapshot;
}

/** What the timeline keeps of a removed row. */
export function pastOf(row: ReadonlyRow): PastRow {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    parentId: row.parentId,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    exitCode: row.exitCode,
    daemon: row.daemon,
    runs: [...row.runs],
    waits: [...row.waits],
    readyAt: row.readyAt,
  };
}
