// The public shapes of SPEC §6: what a caller asks to start, and the plain-data view of a process.

export type InstrumentMode = 'auto' | 'python' | 'none';

export interface ProcessSpec {
  command: string;
  args?: string[];
  name?: string;
  daemon?: boolean;
  cwd?: string;
  /** Merged over the inherited environment. */
  env?: Record<string, string>;
  shell?: boolean;
  instrument?: InstrumentMode;
}

export type ProcessKind = 'launched' | 'python' | 'discovered';

/** What a process is in multiprocessing's machinery, or a launcher (a shim or wrapper that starts the Python program). */
export type ProcessRole = 'forkserver' | 'resource_tracker' | 'manager' | 'pool-worker' | 'launcher';

/** A multiprocessing synchronisation object a process is blocked on. */
export interface WaitingOn {
  /** Lock, RLock, Semaphore, Event, Condition, Barrier, Queue.get, Process.join… */
  kind: string;
  /** Where the object was created, `file:line`. */
  site: string;
  /** For locks: the name of the process holding it. */
  holder?: string;
}

export interface ProcessSnapshot {
  id: string;
  name: string;
  pid: number | null;
  ppid: number | null;
  parentId: string | null;
  daemon: boolean;
  alive: boolean;
  exitCode: number | null;
  status: string;
  kind: ProcessKind;
  command: string;
  args: string[];
  cwd: string | null;
  startedAt: number;
  endedAt: number | null;
  // Absent fields mean "not known".
  /** The procscope.processes name it runs. */
  definition?: string;
  restarts?: number;
  lastExitCode?: number | null;
  /** Its readiness probe passed. */
  ready?: boolean;
  /** TCP ports it or its descendants listen on. */
  ports?: number[];
  role?: ProcessRole;
  waitingOn?: WaitingOn | null;
}
