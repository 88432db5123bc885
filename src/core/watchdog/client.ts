// Starts the watchdog and keeps it told which process groups and processes are the supervisor's, and their mark.
import { spawn, type ChildProcess } from 'node:child_process';
import { forgetGroupLine, forgetProcessLine, groupLine, orderlyExitLine, ownerLine, processLine } from './protocol';

/**
 * Every write wakes the watchdog (on a VM that costs ~0.1 ms, a tenth of a short process's whole start and reap), so
 * lines are held back and written together. A registration waits REGISTER_DELAY_MS at most: a burst of starts is one
 * write, and meanwhile the processes it names carry the supervisor's mark, which the watchdog looks for if the
 * supervisor dies (watchMark; see markedProcesses). A forget waits FORGET_DELAY_MS at most, or goes with the next
 * write: the watchdog checks each entry's start stamp before it signals, so a stale one ends nothing.
 */
const REGISTER_DELAY_MS = 100;
const FORGET_DELAY_MS = 1000;
/** More lines than this are written at once. */
const MAX_HELD = 256;

export class WatchdogClient {
  private child: ChildProcess | undefined;
  private held: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushAt = Infinity;
  private mark: string | undefined;

  /**
   * @param scriptPath the bundled watchdog (dist/watchdog.js)
   * @param nodePath a Node binary; in Electron the host's own binary works with ELECTRON_RUN_AS_NODE
   * @param registerDelayMs how long a registration may be held back (tests lengthen it)
   */
  constructor(
    private readonly scriptPath: string,
    private readonly nodePath: string = process.execPath,
    private readonly extraEnv: Record<string, string> = {},
    private readonly registerDelayMs = REGISTER_DELAY_MS,
  ) {}

  /** The watchdog's pid, once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private ensureStarted(): ChildProcess | undefined {
    if (this.running) return this.child;
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
    if (this.mark !== undefined) child.stdin?.write(ownerLine(this.mark)); // a watchdog started again learns it again
    return child;
  }

  private take(): string {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushAt = Infinity;
    const held = this.held.join('');
    this.held = [];
    return held;
  }

  /** Holds `line` back, to be written `delayMs` from now at the latest, with everything else held by then. */
  private hold(line: string, delayMs: number): void {
    this.held.push(line);
    if (this.held.length > MAX_HELD) return this.flush();
    const at = Date.now() + delayMs;
    if (at >= this.flushAt) return;
    clearTimeout(this.timer);
    this.flushAt = at;
    this.timer = setTimeout(() => this.flush(), delayMs).unref();
  }

  private flush(): void {
    const held = this.take();
    if (held) this.ensureStarted()?.stdin?.write(held); // a watchdog that died meanwhile is started again first
  }

  /** The mark (ownerMark.ts) of this supervisor's processes: the watchdog ends them too. Written at once. */
  watchMark(owner: string): void {
    const running = this.running;
    this.mark = owner;
    if (running) this.child?.stdin?.write(this.take() + ownerLine(owner));
    else this.ensureStarted(); // told as it starts
  }

  addGroup(pgid: number, leaderPid: number, startTime: number): void {
    this.ensureStarted();
    this.hold(groupLine(pgid, leaderPid, startTime), this.registerDelayMs);
  }

  removeGroup(pgid: number): void {
    if (this.child) this.hold(forgetGroupLine(pgid), FORGET_DELAY_MS);
  }

  addProcess(pid: number, startTime: number): void {
    this.ensureStarted();
    this.hold(processLine(pid, startTime), this.registerDelayMs);
  }

  removeProcess(pid: number): void {
    if (this.child) this.hold(forgetProcessLine(pid), FORGET_DELAY_MS);
  }

  /** The supervisor exits in order: the watchdog ends what is still registered (nothing, after the exit rules), then exits. */
  close(): void {
    const held = this.take();
    if (this.running) this.child?.stdin?.write(held + orderlyExitLine());
    this.child?.stdin?.end();
    this.child = undefined;
  }
}
