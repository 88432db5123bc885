// The line protocol between the extension host and its watchdog: what to clean up if the host disappears.

/** `g PGID LEADER_PID START` registers a process group, `G PGID` forgets it. */
export function groupLine(pgid: number, leaderPid: number, startTime: number): string {
  return `g ${pgid} ${leaderPid} ${startTime}\n`;
}
export function forgetGroupLine(pgid: number): string {
  return `G ${pgid}\n`;
}
/** `p PID START` registers one more process (a descendant, possibly outside every group), `P PID` forgets it. */
export function processLine(pid: number, startTime: number): string {
  return `p ${pid} ${startTime}\n`;
}
export function forgetProcessLine(pid: number): string {
  return `P ${pid}\n`;
}

export interface Registry {
  groups: Map<number, { leaderPid: number; startTime: number }>;
  processes: Map<number, number>;
}

/** Applies one protocol line to the registry; ignores anything malformed. */
export function applyLine(registry: Registry, line: string): void {
  const [op, ...rest] = line.trim().split(' ');
  const numbers = rest.map(Number);
  if (numbers.some((n) => !Number.isSafeInteger(n))) return;
  switch (op) {
    case 'g':
      if (numbers.length === 3 && numbers[0] > 1) registry.groups.set(numbers[0], { leaderPid: numbers[1], startTime: numbers[2] });
      break;
    case 'G':
      registry.groups.delete(numbers[0]);
      break;
    case 'p':
      if (numbers.length === 2 && numbers[0] > 1) registry.processes.set(numbers[0], numbers[1]);
      break;
    case 'P':
      registry.processes.delete(numbers[0]);
      break;
  }
}
