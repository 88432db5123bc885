// The Linux process table read straight from /proc, for tests that check which processes exist.
import { readdirSync, readFileSync } from 'node:fs';

/**
 * One process, or undefined if it is gone.
 * @returns {{ pid: number, ppid: number, pgid: number, sid: number, state: string, comm: string, cmdline: string[] } | undefined}
 */
export function readProcess(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself contain spaces or ')': split at the last ')'.
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const [state, ppid, pgid, sid] = stat.slice(close + 2).split(' ');
  let cmdline = [];
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    // exited between the two reads, or a zombie
  }
  return { pid, ppid: Number(ppid), pgid: Number(pgid), sid: Number(sid), state, comm, cmdline };
}

/** Every process on the machine. */
export function listProcesses() {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProcess(Number(name)))
    .filter((p) => p !== undefined);
}

/** Every descendant of `pid` (not `pid` itself), found by walking ppid links. */
export function descendantsOf(pid, processes = listProcesses()) {
  const children = new Map();
  for (const p of processes) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(p);
  }
  const found = [];
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length) {
    const p = stack.pop();
    found.push(p);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return found;
}

/** Gone = no /proc entry, or a zombie (PID 1 on these machines does not reap orphans). */
export function isGone(pid) {
  const p = readProcess(pid);
  return p === undefined || p.state === 'Z' || p.state === 'X';
}

/** A short description for failure messages: `4242 sleep 300 (state S, ppid 1, pgid 4242)`. */
export function describeProcess(pid) {
  const p = readProcess(pid);
  if (!p) return `${pid} (gone)`;
  return `${pid} ${p.cmdline.join(' ') || `[${p.comm}]`} (state ${p.state}, ppid ${p.ppid}, pgid ${p.pgid})`;
}

/** One variable of a process's environment as it was at exec, or undefined. */
export function environValue(pid, name) {
  let raw;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return undefined;
  }
  const entry = raw.split('\0').find((e) => e.startsWith(`${name}=`));
  return entry === undefined ? undefined : entry.slice(name.length + 1);
}

/**
 * Every live process whose PROCSCOPE_OWNER mark (which every process ProcScope starts inherits) starts with one of
 * `owners`: judged from outside, whoever its parent is now.
 */
export function processesMarkedBy(owners) {
  return listProcesses().filter((p) => {
    if (p.state === 'Z' || p.state === 'X') return false;
    const mark = environValue(p.pid, 'PROCSCOPE_OWNER');
    return mark !== undefined && owners.some((owner) => mark.startsWith(`${owner}/`));
  });
}
