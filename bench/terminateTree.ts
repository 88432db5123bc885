// Terminating a tree of 200 descendants until every pid is gone: ProcessTable.terminate against tree-kill on an identical tree.
import treeKill from 'tree-kill';
import type { ProcessService } from '../src/core/host/processService';
import { readStat } from '../src/core/os/procfs';
import { aliveWithStart, benchService, killGroup, log, main, median, round, sleep, spawnGroup, type BenchResult } from './common';
import { treeScript, waitForTree, type Member } from './tree';

const BRANCHES = 50;
const DESCENDANTS = BRANCHES * 4;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const TREE_KILL_ROUNDS = Number(process.env.BENCH_TREE_KILL_ROUNDS ?? 5);

function survivors(members: readonly Member[]): Member[] {
  return members.filter((m) => aliveWithStart(m.pid, m.startTime));
}

/** Ends whatever a failed round left of a tree, by verified pid. */
function killSurvivors(members: readonly Member[]): void {
  for (const m of survivors(members)) {
    try {
      process.kill(m.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

async function procscopeRound(table: ProcessService): Promise<{ ms: number; left: number }> {
  const p = await table.start({ command: 'bash', args: ['-c', treeScript(BRANCHES)] });
  const pid = p.pid as number;
  const members = [{ pid, startTime: readStat(pid)?.startTime ?? 0 }, ...(await waitForTree(pid, DESCENDANTS))];
  // Every pid known before the clock starts: the supervisor has discovered the whole tree (rows come once a poll
  // interval old).
  let known = 0;
  for (let i = 0; i < 100 && known !== DESCENDANTS + 1; i++) {
    await sleep(50);
    await table.poll();
    known = table.processes().filter((s) => s.alive).length;
  }
  if (known !== DESCENDANTS + 1) throw new Error(`the table knows ${known} live processes, expected ${DESCENDANTS + 1}`);
  const t = performance.now();
  await table.terminate(p.id);
  const ms = performance.now() - t;
  const left = survivors(members).length;
  killSurvivors(members);
  await table.clearExited();
  return { ms, left };
}

/** The floor no tool can beat: SIGTERM to the process group, then a look at every pid each millisecond until all are gone. */
async function groupSignalRound(): Promise<number> {
  const root = spawnGroup('bash', ['-c', treeScript(BRANCHES)], { stdio: 'ignore' });
  const members = [{ pid: root.pid as number, startTime: readStat(root.pid as number)?.startTime ?? 0 }, ...(await waitForTree(root.pid as number, DESCENDANTS))];
  try {
    const t = performance.now();
    process.kill(-(root.pid as number), 'SIGTERM');
    let next = 0;
    for (;;) {
      while (next < members.length && !aliveWithStart(members[next].pid, members[next].startTime)) next++;
      if (next === members.length) return performance.now() - t;
      await sleep(1);
    }
  } finally {
    killGroup(root);
    killSurvivors(members);
  }
}

async function treeKillRound(): Promise<number> {
  const root = spawnGroup('bash', ['-c', treeScript(BRANCHES)], { stdio: 'ignore' });
  const members = [{ pid: root.pid as number, startTime: readStat(root.pid as number)?.startTime ?? 0 }, ...(await waitForTree(root.pid as number, DESCENDANTS))];
  try {
    const t = performance.now();
    await new Promise<void>((resolve, reject) => treeKill(root.pid as number, 'SIGTERM', (error) => (error ? reject(error) : resolve())));
    while (survivors(members).length > 0) await sleep(1);
    return performance.now() - t;
  } finally {
    killGroup(root);
    killSurvivors(members);
  }
}

main(async (): Promise<BenchResult> => {
  const table = benchService();
  await procscopeRound(table); // warm-up
  await groupSignalRound();
  const ours: number[] = [];
  const floor: number[] = [];
  let leftBehind = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const { ms, left } = await procscopeRound(table);
    ours.push(ms);
    leftBehind += left;
    floor.push(await groupSignalRound());
  }
  log(`ProcessTable.terminate: ${ours.map((v) => round(v, 1)).join(' ')} ms`);
  log(`bare group SIGTERM: ${floor.map((v) => round(v, 1)).join(' ')} ms`);
  const theirs: number[] = [];
  for (let i = 0; i < TREE_KILL_ROUNDS; i++) theirs.push(await treeKillRound());
  log(`tree-kill: ${theirs.map((v) => round(v, 0)).join(' ')} ms`);
  await table.detach();
  table.dispose();
  const speedup = median(theirs) / median(ours);
  return {
    name: 'terminateTree',
    rows: [
      {
        benchmark: 'terminate tree',
        what: `terminate a tree of ${DESCENDANTS} descendants until every pid is gone`,
        procscope: `${round(median(ours), 1)} ms`,
        baseline: `${round(median(theirs), 0)} ms`,
        baselineName: 'tree-kill',
        ratio: round(median(ours) / median(theirs), 3),
        bar: `≤ 25 ms and ≥ 30× faster (here ${round(speedup, 0)}×)`,
        met: median(ours) <= 25 && speedup >= 30 && leftBehind === 0,
      },
      {
        benchmark: 'terminate tree',
        what: 'the same, against the floor: SIGTERM to the process group, every pid checked each ms until gone',
        procscope: `${round(median(ours), 1)} ms`,
        baseline: `${round(median(floor), 1)} ms`,
        baselineName: 'bare process-group SIGTERM',
        ratio: round(median(ours) / median(floor), 2),
        bar: 'context (the kernel’s share)',
      },
    ],
    details: { processTableMs: ours.map((v) => round(v)), groupSignalMs: floor.map((v) => round(v)), treeKillMs: theirs.map((v) => round(v)), pidsLeftAlive: leftBehind },
    notes: leftBehind ? [`${leftBehind} pids were still alive after terminate() resolved`] : [],
  };
});
