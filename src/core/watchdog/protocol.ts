// The line protocol between the supervisor and its watchdog: what to clean up if the supervisor disappears.

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

/** `o OWNER` names the mark (ownerMark.ts) the supervisor's processes carry: those are ended too, registered or not. */
export function ownerLine(owner: string): string {
  return `o ${owner}\n`;
}
const OWNER_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** `x`: the supervisor is exiting in order (its exit rules ran): only what is registered is ended, not every mark. */
export function orderlyExitLine(): string {
  return 'x\n';
}

export interface Registry {
  groups: Map<number, { leaderPid: number; startTime: number }>;
  processes: Map<number, number>;
  owners: Set<string>;
  orderly: boolean;
}

export function emptyRegistry(): Registry {
  return { groups: new Map(), processes: new Map(), owners: new Set(), orderly: false };
}

/** Applies one protocol line to the registry; ignores anything malformed. */
export function applyLine(registry: Registry, line: string): void {
  const [op, ...rest] = line.trim().split(' ');
  if (op === 'x') {
    registry.orderly = rest.length === 0;
    return;
  }
  if (op === 'o') {
    if (rest.length === 1 && OWNER_PATTERN.test(rest[0])) registry.owners.add(rest[0]);
    return;
  }
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
