// Reads the Linux process table straight from /proc: one small read a process, no child processes spawned.
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import type { OsProcess } from './osProcess';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, fixed at 100 on every Linux architecture that matters
const PAGE_SIZE = 4096;
const statBuffer = Buffer.alloc(4096);

/** True where /proc has the layout we parse. */
export function hasProcfs(): boolean {
  try {
    return readdirSync('/proc/self/task').length > 0;
  } catch {
    return false;
  }
}

function readSmallFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const length = readSync(fd, statBuffer, 0, statBuffer.length, 0);
    if (length < statBuffer.length) return statBuffer.toString('latin1', 0, length);
    return readFileSync(path, 'latin1'); // rare: a children file listing hundreds of pids
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Parses the text of /proc/PID/stat; the command name may itself hold spaces and parentheses. */
export function parseStat(text: string): OsProcess | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 of proc(5): state; ppid 4, pgrp 5, utime 14, stime 15, num_threads 20, starttime 22, rss 24.
  if (fields.length < 22) return undefined;
  return {
    pid: Number(text.slice(0, open - 1)),
    comm: text.slice(open + 1, close),
    state: fields[0],
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND,
    threads: Number(fields[17]),
    startTime: Number(fields[19]),
    rssBytes: Number(fields[21]) * PAGE_SIZE,
  };
}

/** The process `pid` as /proc shows it now, or undefined when there is no such process. */
export function readStat(pid: number): OsProcess | undefined {
  const text = readSmallFile(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseStat(text);
}

/** Every pid in the system. */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const code = name.charCodeAt(0);
    if (code >= 48 && code <= 57) pids.push(Number(name));
  }
  return pids;
}

/** Every process in the system, keyed by pid. */
export function scanAll(): Map<number, OsProcess> {
  const table = new Map<number, OsProcess>();
  for (const pid of listPids()) {
    const stat = readStat(pid);
    if (stat) table.set(pid, stat);
  }
  return table;
}

/** Direct children of `process`, from each of its threads' `children` file (the kernel lists them per thread). */
export function readChildren(process: { pid: number; threads: number }): number[] {
  const tids = process.threads > 1 ? safeReaddir(`/proc/${process.pid}/task`) : [String(process.pid)];
  const children: number[] = [];
  for (const tid of tids) {
    const text = readSmallFile(`/proc/${process.pid}/task/${tid}/children`);
    if (!text) continue;
    for (const word of text.split(' ')) if (word !== '') children.push(Number(word));
  }
  return children;
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** argv of `pid` (empty for kernel threads and processes that are gone). */
export function readCmdline(pid: number): string[] {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const words = raw.split('\0');
    if (words[words.length - 1] === '') words.pop();
    return words;
  } catch {
    return [];
  }
}

/** The children files exist only with CONFIG_PROC_CHILDREN; without them a full scan is needed. */
export function hasChildrenFiles(): boolean {
  return readSmallFile(`/proc/${process.pid}/task/${process.pid}/children`) !== undefined;
}
