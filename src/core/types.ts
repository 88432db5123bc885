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
}
