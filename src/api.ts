// The API other extensions get from activate(): SPEC §6, plain data in and out.
import type * as vscode from 'vscode';
import type { Logger } from './core/logger';
import type { ProcessTable } from './core/processTable';
import type { ProcessSnapshot, ProcessSpec } from './core/types';

export type { ProcessSnapshot, ProcessSpec } from './core/types';

export interface ProcScopeApi {
  readonly apiVersion: 1;
  /** Starts a process; rejects with a clear Error on bad input. */
  start(spec: ProcessSpec): Promise<ProcessSnapshot>;
  /** Every known process, in start order. */
  processes(): ProcessSnapshot[];
  get(id: string): ProcessSnapshot | undefined;
  /** Waits for exit, or until `timeoutMs` passes (then the snapshot shows the process still alive). */
  join(id: string, timeoutMs?: number): Promise<ProcessSnapshot>;
  /** SIGTERM to the process and its descendants, SIGKILL if they outlive procscope.killTimeoutMs; resolves when all are gone. */
  terminate(id: string): Promise<ProcessSnapshot>;
  /** SIGKILL to the process and its descendants; resolves when all are gone. */
  kill(id: string): Promise<ProcessSnapshot>;
  /** Captured stdout and stderr (bounded); complete once join() has returned for an exited process. */
  output(id: string): string;
  /** Recent log lines as shown in the channel (bounded). */
  logLines(): string[];
  readonly onDidChangeProcesses: vscode.Event<void>;
  readonly onDidLog: vscode.Event<string>;
}

export function createApi(table: ProcessTable, logger: Logger, onDidChangeProcesses: vscode.Event<void>): ProcScopeApi {
  return Object.freeze({
    apiVersion: 1 as const,
    start: (spec: ProcessSpec) => table.start(spec),
    processes: () => table.processes(),
    get: (id: string) => table.get(id),
    join: (id: string, timeoutMs?: number) => table.join(id, timeoutMs),
    terminate: (id: string) => table.terminate(id),
    kill: (id: string) => table.kill(id),
    output: (id: string) => table.output(id),
    logLines: () => logger.lines(),
    onDidChangeProcesses,
    onDidLog: logger.onLine,
  });
}
