// Starts the watchdog with the first launch and keeps it told which process groups and processes are ours.
import { spawn, type ChildProcess } from 'node:child_process';
import { forgetGroupLine, forgetProcessLine, groupLine, processLine } from './protocol';

/**
 * How long a `forget` line may wait to go with the next registration. Every write wakes the watchdog (on a VM that
 * costs ~0.1 ms, a tenth of a short process's whole start and reap), and a forgotten group or process need not be
 * forgotten at once: the watchdog checks each entry's start stamp before it signals, so a stale one ends nothing.
 */
const FORGET_DELAY_MS = 1000;
/** More forget lines than this are written at once. */
const MAX_FORGETS_HELD = 256;

export class WatchdogClient {
  private child: ChildProcess | undefined;
  private forgets: string[] = [];
  private forgetTimer: NodeJS.Timeout | undefined;

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

  /** Writes `line` now, after the forget lines held back. */
  private send(line: string): void {
    const child = this.ensureStarted();
    const held = this.takeForgets();
    child?.stdin?.write(held + line);
  }

  private takeForgets(): string {
    clearTimeout(this.forgetTimer);
    this.forgetTimer = undefined;
    const held = this.forgets.join('');
    this.forgets = [];
    return held;
  }

  /** Holds a forget line back until the next registration, FORGET_DELAY_MS at most. */
  private forget(line: string): void {
    if (!this.child) return;
    this.forgets.push(line);
    if (this.forgets.length > MAX_FORGETS_HELD) this.flushForgets();
    else this.forgetTimer ??= setTimeout(() => this.flushForgets(), FORGET_DELAY_MS).unref();
  }

  private flushForgets(): void {
    const held = this.takeForgets();
    if (held && this.child) this.child.stdin?.write(held);
  }

  addGroup(pgid: number, leaderPid: number, startTime: number): void {
    this.send(groupLine(pgid, leaderPid, startTime));
  }

  removeGroup(pgid: number): void {
    this.forget(forgetGroupLine(pgid));
  }

  addProcess(pid: number, startTime: number): void {
    this.send(processLine(pid, startTime));
  }

  removeProcess(pid: number): void {
    this.forget(forgetProcessLine(pid));
  }

  /** Closes the pipe: the watchdog ends whatever is still registered, then exits. */
  close(): void {
    this.flushForgets();
    this.child?.stdin?.end();
    this.child = undefined;
  }
}
