// How a process reads in the tree and tooltips: plain strings, so they are tested without VS Code.
import { formatCommandLine } from './commandLine';
import { exitCodeName } from './status';
import type { ProcessSnapshot } from './types';

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]|\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** Removes ANSI escapes and control characters, so nothing a process prints can reach a label. */
export function stripControl(text: string): string {
  // eslint-disable-next-line no-control-regex -- ANSI escapes start with ESC
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(CONTROL, '');
}

/** `pid 4242 · alive · daemon`, `pid 4242 · exitcode 0`, `pid 4242 · exitcode -15 (SIGTERM)`. */
export function describeState(p: ProcessSnapshot): string {
  const parts: string[] = [p.pid === null ? 'not started' : `pid ${p.pid}`];
  if (p.alive) parts.push('alive');
  else if (p.exitCode === null) parts.push(p.pid === null ? 'initial' : 'exited');
  else parts.push(p.exitCode < 0 ? `exitcode ${p.exitCode} (${exitCodeName(p.exitCode)})` : `exitcode ${p.exitCode}`);
  if (p.daemon) parts.push('daemon');
  if (p.kind === 'discovered') parts.push(shorten(formatCommandLine(basename(stripControl(p.command)), p.args.map(stripControl)), 48));
  return parts.join(' · ');
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1) || path;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The state a row's icon, colour and menus follow. */
export type RowState = 'alive' | 'ok' | 'failed' | 'signalled' | 'ended';

export function rowState(p: ProcessSnapshot): RowState {
  if (p.alive) return 'alive';
  if (p.exitCode === null) return 'ended';
  if (p.exitCode === 0) return 'ok';
  return p.exitCode < 0 ? 'signalled' : 'failed';
}

/** `process.launched.alive.daemon`: what menus match on (`viewItem =~ /\.alive\b/`). */
export function contextValue(p: ProcessSnapshot): string {
  return ['process', p.kind, p.alive ? 'alive' : 'exited', ...(p.daemon ? ['daemon'] : [])].join('.');
}

/** 0.4 s, 9.9 s under 10 s (a short run is worth telling apart from none); above, as coarse as formatDuration. */
export function formatRunTime(ms: number): string {
  if (ms < 10_000) return `${(Math.floor(Math.max(0, ms) / 100) / 10).toFixed(1)} s`;
  return formatDuration(ms);
}

/** 3 s, 2 min 5 s, 1 h 4 min: coarse on purpose, so rows do not churn every second. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

/** 12.3 MB */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** What the tooltip shows beyond the snapshot. */
export interface Usage {
  cpuPercent?: number;
  rssBytes?: number;
  /** For a multiprocessing child: fork, spawn or forkserver. */
  startMethod?: string;
}

/** Lines of the tooltip: command line, cwd, start time, run time, status, usage. */
export function tooltipLines(p: ProcessSnapshot, usage: Usage, now = Date.now()): string[] {
  const lines = [
    `${stripControl(p.name)} (${p.kind})`,
    `Command: ${formatCommandLine(stripControl(p.command), p.args.map(stripControl))}`,
  ];
  if (p.cwd) lines.push(`Working directory: ${stripControl(p.cwd)}`);
  if (p.pid !== null) lines.push(`PID: ${p.pid}${p.ppid !== null ? ` (parent ${p.ppid})` : ''}`);
  lines.push(`Started: ${new Date(p.startedAt).toLocaleString()}`);
  lines.push(`Run time: ${formatRunTime((p.endedAt ?? now) - p.startedAt)}`);
  lines.push(`Status: ${p.status}${p.daemon ? ' (daemon)' : ''}`);
  if (usage.startMethod) lines.push(`Start method: ${stripControl(usage.startMethod)}`);
  if (p.alive && usage.cpuPercent !== undefined) lines.push(`CPU: ${usage.cpuPercent.toFixed(1)} %`);
  if (p.alive && usage.rssBytes !== undefined) lines.push(`Memory: ${formatBytes(usage.rssBytes)}`);
  return lines;
}
