// Starts the watchdog with the first launch and keeps it told which process groups and processes are ours.
import { spawn, type ChildProcess } from 'node:child_process';
import { forgetGroupLine, forgetProcessLine, groupLine, processLine } from './protocol';

export class WatchdogClient {
  private child: ChildProcess | undefined;

  /**
   * @param scriptPath the bundled watchdog (dist/watchdog.js)
   * @param nodePath a Node binary; in Electron the host's own binary works with ELECTRON_RUN_AS_NODE
   */
  constructor(
    private readonly scriptPath: string,
    private readonly nodePath: string = process.execPath,
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  /** The watchdog's pid, once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private ensureStarted(): ChildProcess | undefined {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    const child = spawn(this.nodePath, [this.scriptPath], {
      detached: true, // its own session: a signal to the host's group does not reach it
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...this.extraEnv },
      windowsHide: true,
    });
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.child = child;
    return child;
  }

  private send(line: string): void {
    const child = this.ensureStarted();
    child?.stdin?.write(line);
  }

  addGroup(pgid: number, leaderPid: number, startTime: number): void {
    this.send(groupLine(pgid, leaderPid, startTime));
  }

  removeGroup(pgid: number): void {
    if (this.child) this.send(forgetGroupLine(pgid));
  }

  addProcess(pid: number, startTime: number): void {
    this.send(processLine(pid, startTime));
  }

  removeProcess(pid: number): void {
    if (this.child) this.send(forgetProcessLine(pid));
  }

  /** Closes the pipe: the watchdog ends whatever is still registered, then exits. */
  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }
}
