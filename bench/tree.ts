// A process tree of nested subshells and sleepers, built the same way for ProcScope and for its baselines.
import { ProcfsSource } from '../src/core/os/processSource';
import { sleep } from './common';

/** Each branch is a subshell running a subshell running two sleepers: 4 descendants a branch. */
const BRANCH = `bash -c 'bash -c "sleep 300 & sleep 300 & wait" & wait'`;

/** bash -c SCRIPT: a root whose tree has `4 × branches` descendants once every sleeper has exec'd. */
export function treeScript(branches: number): string {
  return `for ((i = 0; i < ${branches}; i++)); do ${BRANCH} & done; wait`;
}

export interface Member {
  pid: number;
  startTime: number;
}

/** Waits until the tree below `rootPid` has `expected` descendants, `sleepers` of them past exec; returns them all. */
export async function waitForTree(rootPid: number, expected: number, sleepers = expected / 2, timeoutMs = 30_000): Promise<Member[]> {
  const source = new ProcfsSource();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const below = source.descendantsSync(rootPid);
    const asleep = below.filter((p) => p.comm === 'sleep').length;
    if (below.length === expected && asleep === sleepers) return below.map((p) => ({ pid: p.pid, startTime: p.startTime }));
    if (Date.now() > deadline) throw new Error(`tree of ${rootPid} has ${below.length} descendants (${asleep} sleepers), expected ${expected} (${sleepers})`);
    await sleep(20);
  }
}
