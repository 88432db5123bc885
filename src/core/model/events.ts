// The one stream of facts about processes: producers emit these, one reducer (ProcessState) applies them, the rest subscribe.
//
// The supervisor produces every event (launches, exits, the /proc poll, the Python helper's reports, notes the host asks
// it to record), applies it to its own state, and sends it to the attached host, which applies the same event to its
// copy. A re-adopting host receives the supervisor's state as one `snapshot` event and goes on from there. Events are
// plain JSON data: they cross a socket.
import type { ProcessRole, ProcessSpec, WaitingOn } from '../types';
import type { StateImage } from './row';

/** A process we started (or started again, in place, when `restart` is set). */
export interface LaunchedEvent {
  type: 'launched';
  id: string;
  name: string;
  at: number;
  pid: number;
  /** The supervisor's pid: the real OS parent. */
  ppid: number;
  /**
   * OS start stamp of `pid`: 0 at launch (reading it races the child's exec and costs a short start a twentieth of its
   * time); an `identified` event gives it at the tree's first poll. 0 also where the platform gives none.
   */
  startTime: number;
  command: string;
  args: string[];
  cwd: string;
  daemon: boolean;
  /** The Python helper was put on its PYTHONPATH. */
  instrumented: boolean;
  /** Why its multiprocessing children cannot be reported, when that is known at launch (e.g. `python -I`). */
  note?: string;
  /** The procscope.processes entry it runs, and that entry's workspace folder. */
  definition?: string;
  folder?: string;
  /** A restart of the existing row `id`: same row, `restarts` + 1, the last run's exit code kept. */
  restart?: boolean;
  /** The spec it was started from (to start it again, by whoever holds the state then). */
  spec: ProcessSpec;
  /** Where its output files are (the supervisor's private directory). */
  outputDir: string;
}

/** A process ended. `exitCode` is null when it was not ours to reap (a discovered process) and nobody reported one. */
export interface ExitedEvent {
  type: 'exited';
  id: string;
  at: number;
  exitCode: number | null;
  /** It ended because someone asked (terminate, kill, Stop All, a restart, the exit rules), not by itself. */
  byRequest?: boolean;
}

/**
 * A launched process's OS start stamp, read at its tree's first poll. Until then (and for a process that ended before
 * it) its pid alone names it, which is safe while the supervisor has not reaped it.
 */
export interface IdentifiedEvent {
  type: 'identified';
  id: string;
  startTime: number;
}

/** A launched process's output is complete: its pipes are drained and its last Python reports are in. */
export interface SettledEvent {
  type: 'settled';
  id: string;
}

/** A descendant found in the OS process table. */
export interface DiscoveredEvent {
  type: 'discovered';
  id: string;
  parentId: string;
  name: string;
  at: number;
  pid: number;
  ppid: number;
  startTime: number;
  command: string;
  args: string[];
  role?: ProcessRole;
  /** It left the launched process's tree (setsid, double fork) and was found by the launch's mark in its environment. */
  escaped?: boolean;
}

/** A process's real argv, read from the OS once it was known (it may have exec'd since it was first seen). */
export interface CommandEvent {
  type: 'command';
  id: string;
  command: string;
  args: string[];
}

/**
 * A multiprocessing.Process the Python helper reported. `id` is a new row, or the row of a process the poll found
 * first, which then becomes this child (its real name, daemon flag, place under its logical parent).
 */
export interface PythonStartedEvent {
  type: 'pythonStarted';
  id: string;
  parentId: string;
  name: string;
  at: number;
  pid: number;
  ppid: number;
  daemon: boolean;
  method: string;
  /** OS start stamp, when the process was still there to be read. */
  startTime?: number;
  role?: ProcessRole;
  /** The process that actually forked it, when that is not its logical parent (the forkserver). */
  osParentPid?: number;
}

/** A row moves under another parent (its logical parent became known). */
export interface MovedEvent {
  type: 'moved';
  id: string;
  parentId: string;
}

/** What a row is in multiprocessing's machinery, or that it is a launcher (a shim or wrapper that starts Python). */
export interface RoleEvent {
  type: 'role';
  id: string;
  role: ProcessRole | undefined;
}

export interface Sample {
  id: string;
  cpuPercent?: number;
  rssBytes?: number;
  /** TCP ports it or its descendants listen on (launched rows only). */
  ports?: number[];
}

/** CPU, memory and ports from one poll. Volatile: not replayed. */
export interface SampledEvent {
  type: 'sampled';
  samples: Sample[];
}

/** Ended discovered children folded into their parent's `+N ended` count: their rows go. */
export interface FoldedEvent {
  type: 'folded';
  parentId: string;
  ids: string[];
}

/** Rows removed (Clear Exited): they and everything below them go, into the timeline's history. */
export interface RemovedEvent {
  type: 'removed';
  ids: string[];
}

/** A log record, `[LEVEL/process] message`; `source` names the launched program a forwarded Python record came from. */
export interface RecordEvent {
  type: 'record';
  level: number;
  process: string;
  message: string;
  source?: string;
}

/** A readiness probe passed (`ready` true) or gave up (`ready` false). */
export interface ReadyEvent {
  type: 'ready';
  id: string;
  ready: boolean;
  at: number;
}

/** A line of text for the row, shown where its state is (`waiting for db (ready)`, `crash loop`, `restarting in 2 s`). */
export interface PhaseEvent {
  type: 'phase';
  id: string;
  phase: string | undefined;
}

/** A process started or stopped waiting on a multiprocessing synchronisation object. */
export interface WaitEvent {
  type: 'wait';
  id: string;
  at: number;
  waitingOn: WaitingOn | null;
}

/** Rows caught in a deadlock (or waiting on a lock whose holder died) are marked; `ids` empty clears the marks. */
export interface DeadlockEvent {
  type: 'deadlock';
  ids: string[];
}

/** The whole state at once: what a re-adopting host receives first. */
export interface SnapshotEvent {
  type: 'snapshot';
  image: StateImage;
}

export type ProcessEvent =
  | LaunchedEvent
  | ExitedEvent
  | IdentifiedEvent
  | SettledEvent
  | DiscoveredEvent
  | CommandEvent
  | PythonStartedEvent
  | MovedEvent
  | RoleEvent
  | SampledEvent
  | FoldedEvent
  | RemovedEvent
  | RecordEvent
  | ReadyEvent
  | PhaseEvent
  | WaitEvent
  | DeadlockEvent
  | SnapshotEvent;

export type ProcessEventType = ProcessEvent['type'];
