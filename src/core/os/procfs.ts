// Reads the Linux process table straight from /proc: one small read a process, no child processes spawned.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
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
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a file to its end. The kernel hands out a `children` list a page or so per read, and a read that returns less
 * than asked for is not the end of it (a parent with 1000 children lists ~7 KB): only a read of 0 bytes is.
 */
function readWholeFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let text = '';
    for (;;) {
      const length = readSync(fd, statBuffer, 0, statBuffer.length, null);
      if (length === 0) return text;
      text += statBuffer.toString('latin1', 0, length);
    }
  } catch {
    return undefined; // the process went away mid-read
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
    const text = readWholeFile(`/proc/${process.pid}/task/${tid}/children`);
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
  return readWholeFile(`/proc/${process.pid}/task/${process.pid}/children`) !== undefined;
}

/** Seconds since boot, in clock ticks: the unit of a process's start stamp. */
export function uptimeTicks(): number | undefined {
  const text = readSmallFile('/proc/uptime');
  if (text === undefined) return undefined;
  const seconds = Number(text.slice(0, text.indexOf(' ')));
  return Number.isFinite(seconds) ? seconds * CLOCK_TICKS_PER_SECOND : undefined;
}

/** How long a process with this start stamp has been running, given `uptime` from uptimeTicks(). */
export function ageMs(startTime: number, uptime: number): number {
  return Math.max(0, ((uptime - startTime) * 1000) / CLOCK_TICKS_PER_SECOND);
}

/** The program a process runs (`/proc/PID/exe`), or undefined when it is gone or not ours to look at. */
export function readExe(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** The value of `name` in a process's environment as it was at exec; undefined when not set, null when unreadable (gone, not ours, in exec). */
export function readEnvironValue(pid: number, name: string): string | null | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return null;
  }
  // Empty: a process in the middle of exec (or a kernel thread, a zombie): nothing to tell yet.
  if (raw.length === 0) return null;
  const key = `${name}=`;
  let start: number;
  if (raw.startsWith(key)) {
    start = key.length;
  } else {
    const at = raw.indexOf(`\0${key}`);
    if (at === -1) return undefined;
    start = at + 1 + key.length;
  }
  const end = raw.indexOf('\0', start);
  return raw.slice(start, end === -1 ? undefined : end);
}

/** The socket inodes a process holds open (`socket:[N]` links under /proc/PID/fd). */
export function readSocketInodes(pid: number): number[] {
  const inodes: number[] = [];
  for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target.startsWith('socket:[')) inodes.push(Number(target.slice(8, -1)));
  }
  return inodes;
}

/** TCP sockets in the LISTEN state, by inode, with their local port, from /proc/net/tcp and tcp6. */
/**
 * The kernel's socket counts (/proc/net/sockstat{,6}): cheap to read, where the TCP tables cost ~1.5 ms each however
 * few sockets they list (the kernel walks every hash bucket). A listening socket that appears changes them.
 */
export function readSocketCounts(): string {
  let text = '';
  for (const file of ['/proc/net/sockstat', '/proc/net/sockstat6']) {
    try {
      text += readFileSync(file, 'latin1');
    } catch {
      text += '?';
    }
  }
  return text;
}

export function readListeningSockets(): Map<number, number> {
  const listening = new Map<number, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A') continue;
      const port = parseInt(fields[1].slice(fields[1].lastIndexOf(':') + 1), 16);
      const inode = Number(fields[9]);
      if (inode > 0 && Number.isFinite(port)) listening.set(inode, port);
    }
  }
  return listening;
}
