// The API other extensions get from activate(): SPEC §6, plain data in and out.
import type * as vscode from 'vscode';
import type { ProcessService } from './core/host/processService';
import type { Logger } from './core/logger';
import type { ProcessSnapshot, ProcessSpec } from './core/types';

export type { ProcessSnapshot, ProcessSpec } from './core/types';

/** A procscope.processes entry as the API lists it. */
export interface DefinitionInfo {
  name: string;
  /** The workspace folder it is defined in (its path). */
  folder: string;
  /** `not started`, `waiting for db (ready)`, `running`, `ready`, `exited`, `crash loop`, `invalid`… */
  state: string;
  /** The row of its current or last run, if it has run. */
  id: string | null;
}

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
  /** Starts the same spec again in place: same id, name and row; `restarts` + 1. */
  restart(id: string): Promise<ProcessSnapshot>;
  /** The procscope.processes definitions of every workspace folder. */
  definitions(): DefinitionInfo[];
  /** Starts a definition (and its dependencies first); the running one if it runs already. */
  startDefinition(name: string, folder?: string): Promise<ProcessSnapshot>;
}

/** What the API needs of the workspace definitions (src/definitions). */
export interface DefinitionsApi {
  list(): DefinitionInfo[];
  start(name: unknown, folder?: unknown): Promise<ProcessSnapshot>;
}

export function createApi(service: ProcessService, logger: Logger, definitions: DefinitionsApi, onDidChangeProcesses: vscode.Event<void>): ProcScopeApi {
  return Object.freeze({
    apiVersion: 1 as const,
    start: (spec: ProcessSpec) => service.start(spec),
    processes: () => service.processes(),
    get: (id: string) => service.get(id),
    join: (id: string, timeoutMs?: number) => service.join(id, timeoutMs),
    terminate: (id: string) => service.terminate(id),
    kill: (id: string) => service.kill(id),
    output: (id: string) => service.output(id),
    logLines: () => logger.lines(),
    onDidChangeProcesses,
    onDidLog: logger.onLine,
    restart: (id: string) => service.restart(id),
    definitions: () => definitions.list(),
    startDefinition: (name: string, folder?: string) => definitions.start(name, folder),
  });
}
