// The watchdog process: outlives the supervisor, and when the supervisor's pipe closes, ends every process it left
// registered and every process carrying its mark.
import treeKill from 'tree-kill';
import { createProcessSource } from '../os/processSource';
import { cleanUp, MARKED_MAX_AGE_MS } from './cleanup';
import { applyLine, emptyRegistry } from './protocol';

const registry = emptyRegistry();
const graceMs = Number(process.env.PROCSCOPE_WATCHDOG_GRACE_MS) || 500;
const markedMaxAgeMs = Number(process.env.PROCSCOPE_WATCHDOG_MARKED_AGE_MS) || MARKED_MAX_AGE_MS;
let buffered = '';
let finishing = false;

async function finish(): Promise<void> {
  if (finishing) return;
  finishing = true;
  const source = createProcessSource();
  try {
    if (source) {
      await cleanUp(registry, source, graceMs, markedMaxAgeMs);
    } else {
      const pids = [...registry.groups.values()].map((g) => g.leaderPid).concat([...registry.processes.keys()]);
      await Promise.all(pids.map((pid) => new Promise((resolve) => treeKill(pid, 'SIGKILL', resolve))));
    }
  } finally {
    process.exit(0);
  }
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  let newline: number;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    applyLine(registry, buffered.slice(0, newline));
    buffered = buffered.slice(newline + 1);
  }
});
process.stdin.on('end', () => void finish());
process.stdin.on('error', () => void finish());
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void finish());
