// What the supervisor does for a workspace process beyond running it: readiness probes (a log line, a TCP port, an
// HTTP answer, a command that exits 0) and restart policies with back-off and a crash-loop breaker. They live in the
// supervisor so they go on while the window reloads.
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { LEVELS } from '../levels';
import type { ProcessEvent } from '../model/events';
import type { ProcessState } from '../model/state';
import { describeValue } from '../validate';
import { endedInWords } from '../status';
import { RESTART_PENDING } from './phases';


export type RestartPolicy = 'no' | 'on-failure' | 'always';
export const RESTART_POLICIES: readonly RestartPolicy[] = ['no', 'on-failure', 'always'];

/** One readiness probe (exactly one kind), checked every PROBE_INTERVAL_MS until `timeoutMs`. */
export interface ReadyProbe {
  logLine?: string;
  port?: number;
  http?: string;
  command?: string;
  timeoutMs?: number;
}

export interface LaunchPolicy {
  restart: RestartPolicy;
  ready?: ReadyProbe;
}

export const PROBE_INTERVAL_MS = 500;
export const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** Back-off before a restart: from the first delay, doubling up to the last. */
export const FIRST_RESTART_DELAY_MS = 500;
export const MAX_RESTART_DELAY_MS = 30_000;
/** A run that lasted this long resets the back-off. */
export const RESET_AFTER_UP_MS = 60_000;
/** This many failures within the window stop restarting (the crash-loop breaker). */
export const CRASH_LOOP_FAILURES = 5;
export const CRASH_LOOP_WINDOW_MS = 60_000;

/** The probe in words, for the log: `port 8080`, `log line /listening/`. */
export function describeProbe(probe: ReadyProbe): string {
  if (probe.logLine !== undefined) return `log line /${probe.logLine}/`;
  if (probe.port !== undefined) return `port ${probe.port}`;
  if (probe.http !== undefined) return `http ${probe.http}`;
  return `command ${JSON.stringify(probe.command)}`;
}

/** A policy from untrusted input, or an Error naming the field and repeating the value. */
export function validatePolicy(input: unknown): LaunchPolicy {
  if (input === undefined || input === null) return { restart: 'no' };
  if (typeof input !== 'object' || Array.isArray(input)) throw new TypeError(`Expected a policy object, got ${describeValue(input)}`);
  const { restart = 'no', ready } = input as { restart?: unknown; ready?: unknown };
  if (!RESTART_POLICIES.includes(restart as RestartPolicy)) {
    throw new TypeError(`Expected \`restart\` to be one of "no", "on-failure", "always", got ${describeValue(restart)}`);
  }
  const policy: LaunchPolicy = { restart: restart as RestartPolicy };
  if (ready !== undefined) policy.ready = validateProbe(ready);
  return policy;
}

export function validateProbe(input: unknown): ReadyProbe {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TypeError(`Expected \`ready\` to be an object, got ${describeValue(input)}`);
  const probe = input as Record<string, unknown>;
  const kinds = ['logLine', 'port', 'http', 'command'].filter((k) => probe[k] !== undefined);
  if (kinds.length !== 1) {
    throw new TypeError(`Expected \`ready\` to have exactly one of logLine, port, http, command, got ${describeValue(input)}`);
  }
  const timeoutMs = probe.timeoutMs;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new TypeError(`Expected \`ready.timeoutMs\` to be a positive number of milliseconds, got ${describeValue(timeoutMs)}`);
  }
  const out: ReadyProbe = timeoutMs === undefined ? {} : { timeoutMs: timeoutMs as number };
  switch (kinds[0]) {
    case 'logLine':
      if (typeof probe.logLine !== 'string' || probe.logLine === '') throw new TypeError(`Expected \`ready.logLine\` to be a non-empty regular expression, got ${describeValue(probe.logLine)}`);
      try {
        new RegExp(probe.logLine);
      } catch (error) {
        throw new TypeError(`Expected \`ready.logLine\` to be a valid regular expression, got ${describeValue(probe.logLine)}: ${(error as Error).message}`);
      }
      return { ...out, logLine: probe.logLine };
    case 'port':
      if (!Number.isInteger(probe.port) || (probe.port as number) < 1 || (probe.port as number) > 65535) {
        throw new TypeError(`Expected \`ready.port\` to be a TCP port (1–65535), got ${describeValue(probe.port)}`);
      }
      return { ...out, port: probe.port as number };
    case 'http': {
      let url: URL | undefined;
      try {
        url = typeof probe.http === 'string' ? new URL(probe.http) : undefined;
      } catch {
        url = undefined;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        throw new TypeError(`Expected \`ready.http\` to be an http:// or https:// URL, got ${describeValue(probe.http)}`);
      }
      return { ...out, http: probe.http as string };
    }
    default:
      if (typeof probe.command !== 'string' || probe.command.trim() === '') throw new TypeError(`Expected \`ready.command\` to be a non-empty command line, got ${describeValue(probe.command)}`);
      return { ...out, command: probe.command };
  }
}

/** One look: is the port open on localhost? */
function portOpen(port: number, timeoutMs: number): Promise<boolean> {
  const attempt = (host: string) =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.on('connect', () => done(true));
      socket.on('error', () => done(false));
    });
  return attempt('127.0.0.1').then((ok) => ok || attempt('::1'));
}

/**
 * One look: does the URL answer 2xx or 3xx? The HTTP modules are loaded with the first such probe: a supervisor with
 * none runs without them (about a megabyte of its RSS).
 */
async function httpAnswers(url: string, timeoutMs: number): Promise<boolean> {
  const client = url.startsWith('https:') ? await import('node:https') : await import('node:http');
  return new Promise((resolve) => {
    const request = client.get(url, { timeout: timeoutMs, rejectUnauthorized: false }, (response) => {
      response.resume();
      const code = response.statusCode ?? 0;
      resolve(code >= 200 && code < 400);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** One look: does the command exit 0? */
function commandSucceeds(command: string, cwd: string | undefined, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, cwd, stdio: 'ignore', detached: process.platform !== 'win32' });
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // gone already
      }
    }, timeoutMs);
    child.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

export interface PolicyContext {
  readonly state: ProcessState;
  emit(event: ProcessEvent): void;
  log(level: number, process: string, message: string): void;
  /** Starts the row again in place (the supervisor's restart). */
  restart(id: string): Promise<unknown>;
}

/**
 * The restart policy's arithmetic after a failure at `now`: the back-off starts at 500 ms and doubles to 30 s, and
 * goes back to 500 ms after a run that stayed up 60 s; the 5th failure within 60 s is a crash loop.
 */
export function nextRestart(
  last: { delayMs: number; failures: readonly number[]; runStartedAt: number },
  now: number,
): { delayMs: number; nextDelayMs: number; failures: number[]; crashLoop: boolean } {
  const delayMs = now - last.runStartedAt >= RESET_AFTER_UP_MS ? FIRST_RESTART_DELAY_MS : last.delayMs;
  const failures = [...last.failures.filter((at) => now - at < CRASH_LOOP_WINDOW_MS), now];
  const crashLoop = failures.length >= CRASH_LOOP_FAILURES;
  return { delayMs, nextDelayMs: crashLoop ? delayMs : Math.min(MAX_RESTART_DELAY_MS, delayMs * 2), failures: crashLoop ? [] : failures, crashLoop };
}

/** What is known of one row's policy: its probe's timers, its failures, its back-off. */
class Watch {
  probeTimer: NodeJS.Timeout | undefined;
  probeDeadline = 0;
  probing = false;
  lineProbe: RegExp | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  failures: number[] = [];
  delayMs = FIRST_RESTART_DELAY_MS;
  /** Set when a person (or Stop All, or the exit rules) ends it: no restart follows. */
  stopped = false;
  runStartedAt = 0;

  constructor(public policy: LaunchPolicy) {}

  clearTimers(): void {
    clearTimeout(this.probeTimer);
    clearTimeout(this.restartTimer);
    this.probeTimer = undefined;
    this.restartTimer = undefined;
    this.probing = false;
    this.lineProbe = undefined;
  }
}

export class Policies {
  private readonly watches = new Map<string, Watch>();
  private readonly subscription: { dispose(): void };
  private closed = false;

  constructor(private readonly context: PolicyContext) {
    this.subscription = context.state.onDidApply((event) => {
      if (event.type === 'exited') this.exited(event.id, event.exitCode);
    });
  }

  /** A row was launched (or started again) under `policy`: probe its readiness, and be ready to restart it. */
  launched(id: string, policy: LaunchPolicy): void {
    let watch = this.watches.get(id);
    if (watch) {
      watch.clearTimers();
      watch.policy = policy;
    } else {
      watch = new Watch(policy);
      this.watches.set(id, watch);
    }
    watch.stopped = false;
    watch.runStartedAt = Date.now();
    if (policy.ready) this.probe(id, watch, policy.ready);
  }

  /** Is a readiness probe waiting for a line of this process's output? */
  wantsOutput(id: string): boolean {
    const watch = this.watches.get(id);
    return watch?.lineProbe !== undefined && watch.probing;
  }

  /** Whole lines a row printed: a log-line probe looks at each. */
  output(id: string, lines: Buffer): void {
    const watch = this.watches.get(id);
    if (!watch?.lineProbe || !watch.probing) return;
    for (const line of lines.toString('utf8').split('\n')) {
      if (watch.lineProbe.test(line)) {
        this.becameReady(id, watch);
        return;
      }
    }
  }

  /** A person ended the row (terminate, kill, restart by hand, Stop All, the exit rules): no policy restarts it. */
  stoppedByUser(id: string): void {
    const watch = this.watches.get(id);
    if (!watch) return;
    watch.stopped = true;
    const pending = watch.restartTimer !== undefined;
    watch.clearTimers();
    if (pending) this.context.emit({ type: 'phase', id, phase: undefined });
  }

  /** Rows removed from the state: forget them. */
  forget(id: string): void {
    this.watches.get(id)?.clearTimers();
    this.watches.delete(id);
  }

  private probe(id: string, watch: Watch, probe: ReadyProbe): void {
    const timeoutMs = probe.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    watch.probing = true;
    watch.probeDeadline = Date.now() + timeoutMs;
    if (probe.logLine !== undefined) {
      watch.lineProbe = new RegExp(probe.logLine);
      watch.probeTimer = setTimeout(() => this.notReady(id, watch, probe), timeoutMs);
      return;
    }
    const look = async () => {
      watch.probeTimer = undefined;
      if (!watch.probing) return;
      const row = this.context.state.get(id);
      if (!row?.alive) return;
      const each = Math.min(5000, Math.max(100, watch.probeDeadline - Date.now()));
      const ok = probe.port !== undefined ? await portOpen(probe.port, each)
        : probe.http !== undefined ? await httpAnswers(probe.http, each)
          : await commandSucceeds(probe.command as string, row.cwd ?? undefined, each);
      if (!watch.probing) return;
      if (ok) return this.becameReady(id, watch);
      if (Date.now() >= watch.probeDeadline) return this.notReady(id, watch, probe);
      watch.probeTimer = setTimeout(() => void look(), PROBE_INTERVAL_MS);
    };
    watch.probeTimer = setTimeout(() => void look(), 0);
  }

  private becameReady(id: string, watch: Watch): void {
    const row = this.context.state.get(id);
    watch.probing = false;
    watch.lineProbe = undefined;
    clearTimeout(watch.probeTimer);
    if (!row?.alive) return;
    this.context.emit({ type: 'ready', id, ready: true, at: Date.now() });
    this.context.log(LEVELS.INFO, row.name, `ready (${describeProbe(watch.policy.ready as ReadyProbe)})`);
  }

  private notReady(id: string, watch: Watch, probe: ReadyProbe): void {
    watch.probing = false;
    watch.lineProbe = undefined;
    const row = this.context.state.get(id);
    if (!row?.alive) return;
    this.context.emit({ type: 'ready', id, ready: false, at: Date.now() });
    this.context.log(LEVELS.ERROR, row.name, `not ready after ${probe.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms (${describeProbe(probe)})`);
  }

  private exited(id: string, exitCode: number | null): void {
    const watch = this.watches.get(id);
    const row = this.context.state.get(id);
    if (!watch || !row || row.kind !== 'launched' || row.alive) return;
    watch.probing = false;
    clearTimeout(watch.probeTimer);
    if (watch.stopped || this.closed) return;
    const { restart } = watch.policy;
    if (restart === 'no' || (restart === 'on-failure' && exitCode === 0)) return;
    const next = nextRestart(watch, Date.now());
    watch.failures = next.failures;
    watch.delayMs = next.nextDelayMs;
    if (next.crashLoop) {
      this.context.emit({ type: 'phase', id, phase: 'crash loop' });
      this.context.log(LEVELS.WARNING, row.name, `crash loop: restarting ${row.name} stopped after ${CRASH_LOOP_FAILURES} failures in ${CRASH_LOOP_WINDOW_MS / 1000} s`);
      watch.failures = [];
      return;
    }
    const delay = next.delayMs;
    this.context.emit({ type: 'phase', id, phase: `${RESTART_PENDING} ${delay < 1000 ? `${delay} ms` : `${Math.round(delay / 1000)} s`}` });
    this.context.log(LEVELS.INFO, row.name, `${endedInWords(exitCode ?? null)}: restarting in ${delay} ms (restart: ${restart})`);
    watch.restartTimer = setTimeout(() => {
      watch.restartTimer = undefined;
      if (watch.stopped || this.closed) return;
      this.context.emit({ type: 'phase', id, phase: undefined });
      this.context.restart(id).catch((error: Error) => this.context.log(LEVELS.ERROR, row.name, `restart failed: ${error.message}`));
    }, delay);
  }

  /** Nothing restarts any more (Stop All's end, the exit rules). */
  stopAll(): void {
    for (const id of this.watches.keys()) this.stoppedByUser(id);
  }

  dispose(): void {
    this.closed = true;
    this.subscription.dispose();
    for (const watch of this.watches.values()) watch.clearTimers();
    this.watches.clear();
  }
}
