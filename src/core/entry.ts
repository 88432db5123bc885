// One process in the table: launched by us, reported by the Python helper, or discovered in the OS process table.
import type { ChildProcess } from 'node:child_process';
import type { OutputBuffer } from './output/outputBuffer';
import { statusText } from './status';
import type { ProcessKind, ProcessSnapshot } from './types';
import type { ValidSpec } from './validate';

/** What only a process we spawned ourselves has. */
export interface Launch {
  readonly child: ChildProcess;
  readonly spec: ValidSpec;
  readonly output: OutputBuffer;
  /** Resolves once stdout and stderr are drained (or shortly after exit, if a descendant still holds them open). */
  readonly outputSettled: Promise<void>;
  /** The start stamp of the leader, for pid-reuse checks. */
  readonly startTime: number;
  instrumented: boolean;
}

export class Entry {
  pid: number | null = null;
  ppid: number | null = null;
  parentId: string | null = null;
  daemon = false;
  alive = false;
  exitCode: number | null = null;
  endedAt: number | null = null;
  command = '';
  args: string[] = [];
  cwd: string | null = null;
  /** The OS start stamp of `pid`: with it a reused pid is never taken for this process. */
  startTime: number | undefined;
  readonly childIds: string[] = [];
  /** Numbers the next discovered child: Process-1:1, Process-1:2… */
  childCounter = 0;
  launch: Launch | undefined;
  /** Process group and thread count as last polled (they let a terminate skip reading the process again). */
  pgid: number | undefined;
  threads: number | undefined;
  /** The short command name last seen; when it changes the process has exec'd something else. */
  comm: string | undefined;
  /** For python entries: the start method multiprocessing used. */
  startMethod: string | undefined;
  cpuPercent: number | undefined;
  rssBytes: number | undefined;
  lastCpuMs: number | undefined;
  lastSampleAt: number | undefined;
  private resolveEnded!: () => void;
  /** Resolves when the process is known to have ended. */
  readonly ended = new Promise<void>((resolve) => (this.resolveEnded = resolve));

  constructor(
    readonly id: string,
    public name: string,
    public kind: ProcessKind,
    /** The launched entry at the top of this entry's tree (itself, for a launched entry). */
    readonly rootId: string,
    public startedAt: number,
  ) {}

  get status(): string {
    return statusText(this.alive, this.exitCode, this.pid);
  }

  /** Marks the process ended (idempotent); a later, better-informed exit code may still be filled in. */
  markEnded(exitCode: number | null, at = Date.now()): boolean {
    const wasAlive = this.alive;
    if (exitCode !== null) this.exitCode = exitCode;
    if (!wasAlive && this.endedAt !== null) return exitCode !== null;
    this.alive = false;
    this.endedAt = at;
    this.cpuPercent = undefined;
    this.resolveEnded();
    return true;
  }

  snapshot(): ProcessSnapshot {
    return {
      id: this.id,
      name: this.name,
      pid: this.pid,
      ppid: this.ppid,
      parentId: this.parentId,
      daemon: this.daemon,
      alive: this.alive,
      exitCode: this.exitCode,
      status: this.status,
      kind: this.kind,
      command: this.command,
      args: [...this.args],
      cwd: this.cwd,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
    };
  }
}
