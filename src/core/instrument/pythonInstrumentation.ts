// Connects the Python helper to the process table: environment for Python launches, reports into the tree and log.
import type { Logger } from '../logger';
import { MAIN_PROCESS } from '../logger';
import type { Instrumentation, ProcessTable } from '../processTable';
import type { ValidSpec } from '../validate';
import { isPythonCommand, pythonEnv } from './pythonEnv';
import { InstrumentServer } from './server';
import type { Disposable } from '../event';

/** How long, after a Python program's tree has ended, its last reports may still be in flight. */
const LAST_REPORTS_MS = 1000;

export class PythonInstrumentation implements Instrumentation, Disposable {
  private server: InstrumentServer | undefined;
  private table: ProcessTable | undefined;
  private readonly subscriptions: Disposable[] = [];

  /**
   * @param helperDir the folder holding sitecustomize.py (dist/python)
   * @param logger records are forwarded at its level (procscope.logLevel), read at each launch
   */
  constructor(
    private readonly helperDir: string,
    private readonly logger: Logger,
  ) {}

  /** Reports go to `table`; called once the table exists (it needs this object first). */
  attach(table: ProcessTable): void {
    this.table = table;
  }

  /** The socket server, created with the first Python launch. */
  private ensureServer(): InstrumentServer {
    if (this.server) return this.server;
    const server = new InstrumentServer({ level: this.logger.level });
    this.subscriptions.push(
      server.onDidStart((e) => void this.table?.reportPythonStart(e.launchId, e)),
      server.onDidExit((e) => this.table?.reportPythonExit(e.launchId, e.pid, e.code)),
      server.onDidLog((e) => this.table?.reportPythonLog(e.launchId, e.level, e.processName, e.message)),
      server.onWarning((message) => this.logger.warning(MAIN_PROCESS, `instrumentation: ${message}`)),
    );
    this.server = server;
    return server;
  }

  /** Applies a new procscope.logLevel to records still arriving (launches already running keep their own filter). */
  setLevel(level: number): void {
    this.server?.setLevel(level);
  }

  prepare(launchId: string, spec: ValidSpec, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined {
    if (!this.wanted(spec)) return undefined;
    let serverEnv;
    try {
      serverEnv = this.ensureServer().register(launchId);
    } catch (error) {
      this.logger.warning(MAIN_PROCESS, `instrumentation unavailable, running without it: ${(error as Error).message}`);
      return undefined;
    }
    this.server?.setLevel(this.logger.level);
    return pythonEnv(this.helperDir, serverEnv, this.logger.level, env);
  }

  async settled(launchId: string): Promise<void> {
    await this.server?.whenIdle(launchId, LAST_REPORTS_MS);
  }

  /** `python`, or `auto` and the command runs Python (for a shell command line: its first word). */
  private wanted(spec: ValidSpec): boolean {
    if (spec.instrument !== 'auto') return spec.instrument === 'python';
    if (!spec.shell) return isPythonCommand(spec.command, spec.args);
    const [first, ...rest] = spec.command.trim().split(/\s+/);
    return isPythonCommand(first, rest);
  }

  release(launchId: string): void {
    const server = this.server;
    if (!server) return;
    void server.whenIdle(launchId, LAST_REPORTS_MS).finally(() => server.unregister(launchId));
  }

  dispose(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    this.server?.dispose();
    this.server = undefined;
  }
}
