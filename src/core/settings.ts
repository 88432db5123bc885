// The settings the supervisor works by, and their defaults: defined here once (package.json's schema is checked against it).
import { LEVELS } from './levels';

export interface SupervisorSettings {
  /** How long terminate() waits after SIGTERM before SIGKILL. */
  killTimeoutMs: number;
  /** How long the exit rules join non-daemon processes before terminating them. */
  shutdownJoinTimeoutMs: number;
  /** How often descendants, CPU, memory and ports are polled while anything is alive. */
  pollIntervalMs: number;
  /** Cap on each process's kept output. */
  outputBufferBytes: number;
  /** How long non-daemon processes wait for a host to re-adopt them after the host went away. */
  reattachGraceMs: number;
  /** Records below this level are not produced (0, NOTSET: none). */
  logLevel: number;
}

export const DEFAULT_SETTINGS: Readonly<SupervisorSettings> = Object.freeze({
  killTimeoutMs: 3000,
  shutdownJoinTimeoutMs: 1500,
  pollIntervalMs: 1000,
  outputBufferBytes: 1024 * 1024,
  reattachGraceMs: 10_000,
  logLevel: LEVELS.INFO,
});

/** The defaults of package.json's `procscope.*` settings, as they must read there (a unit test compares). */
export const SETTING_DEFAULTS = Object.freeze({
  logLevel: 'INFO',
  killTimeoutMs: DEFAULT_SETTINGS.killTimeoutMs,
  shutdownJoinTimeoutMs: DEFAULT_SETTINGS.shutdownJoinTimeoutMs,
  pollIntervalMs: DEFAULT_SETTINGS.pollIntervalMs,
  outputBufferKb: DEFAULT_SETTINGS.outputBufferBytes / 1024,
  reattachGraceMs: DEFAULT_SETTINGS.reattachGraceMs,
  pythonPath: '',
  echoOutput: false,
  processes: [] as unknown[],
});

/** Least poll interval accepted (a faster poll would cost more than it tells). */
export const MIN_POLL_INTERVAL_MS = 100;
/** Least output kept per process. */
export const MIN_OUTPUT_BUFFER_BYTES = 4 * 1024;
