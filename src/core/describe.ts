// How a process reads in the tree and tooltips: plain strings, so they are tested without VS Code.
import { formatCommandLine } from './commandLine';
import { sanitizeName } from './instrument/sanitize';
import type { ReadonlyRow } from './model/row';
import { exitDescription } from './status';
import type { ProcessSnapshot, WaitingOn } from './types';

/** Longest text a description or tooltip line shows of anything a process controls. */
const MAX_SHOWN = 4096;

/**
 * The one sanitiser for every label, description and tooltip: no ANSI escapes, control characters, or invisible
 * direction and width characters (U+202E and friends reorder what a reader sees), on one line, bounded.
 */
export function stripControl(text: string, maxLength = MAX_SHOWN): string {
  return sanitizeName(text, maxLength);
}

/** What describing a row needs: a snapshot has it all, a state row has more (phase, marks). */
export type RowFacts = Pick<ProcessSnapshot, 'alive' | 'exitCode' | 'pid' | 'daemon' | 'kind' | 'command' | 'startedAt' | 'endedAt'>
  & Partial<Pick<ProcessSnapshot, 'role' | 'ready' | 'restarts' | 'waitingOn'>>
  & { readonly args: readonly string[]; readonly ports?: readonly number[]; readonly phase?: string; readonly deadlocked?: boolean; readonly escaped?: boolean };

/** `Lock (bank.py:12) held by Process-2`; for a join, `Process-2 to exit (join at main.py:20)`. */
export function describeWait(wait: WaitingOn): string {
  const site = stripControl(wait.site, 256);
  if (wait.kind === 'Process.join' && wait.holder) return `${stripControl(wait.holder, 256)} to exit (join at ${site})`;
  return `${stripControl(wait.kind, 64)} (${site})${wait.holder ? ` held by ${stripControl(wait.holder, 256)}` : ''}`;
}

/**
 * The row's description, state first so a narrow view still shows it: `alive · daemon · pid 4242`,
 * `exitcode -15 (SIGTERM) · 2.1 s · pid 4242`, `waiting for db (ready) · not started`.
 */
export function describeState(p: RowFacts): string {
  const parts: string[] = [];
  if (p.phase) parts.push(stripControl(p.phase, 256));
  if (p.alive) parts.push('alive');
  else if (p.pid === null) {
    if (!p.phase) parts.push('not started');
  } else parts.push(exitDescription(p.exitCode));
  if (p.daemon) parts.push('daemon');
  if (p.role) parts.push(p.role === 'resource_tracker' ? 'resource tracker' : p.role);
  if (p.escaped) parts.push('escaped');
  if (p.ready === true && p.alive) parts.push('ready');
  if (p.ready === false && p.alive) parts.push('not ready');
  if (p.restarts) parts.push(`↻${p.restarts}`);
  if (p.alive && p.waitingOn) parts.push(`${p.deadlocked ? 'deadlocked: ' : ''}waiting on ${describeWait(p.waitingOn)}`);
  if (!p.alive && p.pid !== null && p.endedAt !== null) parts.push(formatRunTime(p.endedAt - p.startedAt));
  if (p.pid !== null) parts.push(`pid ${p.pid}`);
  if (p.alive && p.ports && p.ports.length > 0) parts.push(p.ports.slice(0, 3).map((port) => `:${port}`).join(' ') + (p.ports.length > 3 ? ' …' : ''));
  if (p.kind === 'discovered') parts.push(shorten(formatCommandLine(basename(stripControl(p.command)), p.args.map((a) => stripControl(a))), 48));
  return parts.join(' · ');
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1) || path;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The state a row's icon, colour and menus follow. */
export type RowState = 'alive' | 'ok' | 'failed' | 'signalled' | 'ended' | 'initial';

export function rowState(p: Pick<RowFacts, 'alive' | 'exitCode' | 'pid'>): RowState {
  if (p.alive) return 'alive';
  if (p.pid === null) return 'initial';
  if (p.exitCode === null) return 'ended';
  if (p.exitCode === 0) return 'ok';
  return p.exitCode < 0 ? 'signalled' : 'failed';
}

/** `process.launched.alive.daemon`: what menus match on (`viewItem =~ /\.alive\b/`). */
export function contextValue(p: Pick<RowFacts, 'kind' | 'alive' | 'daemon' | 'ports'>): string {
  const parts = ['process', p.kind, p.alive ? 'alive' : 'exited'];
  if (p.daemon) parts.push('daemon');
  if (p.alive && p.ports && p.ports.length > 0) parts.push('ports');
  return parts.join('.');
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
  /** For a multiprocessing child started through the forkserver: the process that forked it. */
  osParentPid?: number;
  /** Since when the process waits on its synchronisation object. */
  waitingSince?: number;
  /** Why the helper cannot report this program's children. */
  note?: string;
}

/** Lines of the tooltip: command line, cwd, start time, run time, status, usage. */
export function tooltipLines(p: ProcessSnapshot, usage: Usage, now = Date.now()): string[] {
  const lines = [
    `${stripControl(p.name)} (${p.kind}${p.role ? `, ${p.role}` : ''})`,
    `Command: ${formatCommandLine(stripControl(p.command), p.args.map((a) => stripControl(a)))}`,
  ];
  if (p.cwd) lines.push(`Working directory: ${stripControl(p.cwd)}`);
  if (p.definition) lines.push(`Definition: ${stripControl(p.definition)} (procscope.processes)`);
  if (p.pid !== null) {
    const parent = usage.osParentPid !== undefined ? `started by ${p.ppid}, forked by ${usage.osParentPid}` : p.ppid !== null ? `parent ${p.ppid}` : undefined;
    lines.push(`PID: ${p.pid}${parent ? ` (${parent})` : ''}`);
  }
  lines.push(`Started: ${new Date(p.startedAt).toLocaleString()}`);
  lines.push(`Run time: ${formatRunTime((p.endedAt ?? now) - p.startedAt)}`);
  lines.push(`Status: ${p.status}${p.daemon ? ' (daemon)' : ''}`);
  if (p.restarts) lines.push(`Restarts: ${p.restarts}${p.lastExitCode !== undefined ? ` (last run: ${exitDescription(p.lastExitCode)})` : ''}`);
  if (p.ready !== undefined) lines.push(`Ready: ${p.ready ? 'yes' : 'no'}`);
  if (p.ports && p.ports.length > 0) lines.push(`Listening on: ${p.ports.map((port) => `:${port}`).join(', ')}`);
  if (p.alive && p.waitingOn) {
    const since = usage.waitingSince !== undefined ? ` for ${formatDuration(now - usage.waitingSince)}` : '';
    lines.push(`Waiting${since} on ${describeWait(p.waitingOn)}`);
  }
  if (usage.startMethod) lines.push(`Start method: ${stripControl(usage.startMethod)}`);
  if (p.alive && usage.cpuPercent !== undefined) lines.push(`CPU: ${usage.cpuPercent.toFixed(1)} %`);
  if (p.alive && usage.rssBytes !== undefined) lines.push(`Memory: ${formatBytes(usage.rssBytes)}`);
  if (usage.note) lines.push(`Note: ${stripControl(usage.note)}`);
  return lines;
}

/** What the tooltip of a state row shows beyond its snapshot. */
export function usageOf(row: ReadonlyRow): Usage {
  return {
    cpuPercent: row.cpuPercent,
    rssBytes: row.rssBytes,
    startMethod: row.startMethod,
    osParentPid: row.osParentPid,
    waitingSince: row.waitingSince,
    note: row.note,
  };
}
