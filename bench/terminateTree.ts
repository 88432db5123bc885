// Terminating a tree until every pid is gone (200 descendants warm and cold, 12 and 1000): ProcessTable.terminate against
// tree-kill on an identical tree and against a bare process-group SIGTERM, rounds alternating.
import treeKill from 'tree-kill';
import type { ProcessService } from '../src/core/host/processService';
import { readStat } from '../src/core/os/procfs';
import { aliveWithStart, benchService, killGroup, log, main, median, round, sleep, spawnGroup, type BenchResult } from './common';
import { treeScript, waitForTree, type Member } from './tree';

const BRANCHES = 50;
const DESCENDANTS = BRANCHES * 4;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const TREE_KILL_ROUNDS = Number(process.env.BENCH_TREE_KILL_ROUNDS ?? 5);
/** Smaller and larger trees (3 and 250 branches: 12 and 1000 descendants), fewer rounds. */
const OTHER_BRANCHES = [3, 250];
const OTHER_ROUNDS = 3;

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

/**
 * Warm: every pid is known before the clock starts (the supervisor has discovered the whole tree; rows come once a
 * poll interval old). Cold: terminate as soon as the tree stands, before any poll has seen it, as a person's click may.
 */
async function procscopeRound(table: ProcessService, branches = BRANCHES, cold = false): Promise<{ ms: number; left: number }> {
  const descendants = branches * 4;
  const p = await table.start({ command: 'bash', args: ['-c', treeScript(branches)] });
  const pid = p.pid as number;
  const members = [{ pid, startTime: readStat(pid)?.startTime ?? 0 }, ...(await waitForTree(pid, descendants))];
  let known = 0;
  for (let i = 0; i < 200 && !cold && known !== descendants + 1; i++) {
    await sleep(50);
    await table.poll();
    known = table.processes().filter((s) => s.alive).length;
  }
  if (!cold && known !== descendants + 1) throw new Error(`the table knows ${known} live processes, expected ${descendants + 1}`);
  const t = performance.now();
  await table.terminate(p.id);
  const ms = performance.now() - t;
  const left = survivors(members).length;
  killSurvivors(members);
  await table.clearExited();
  return { ms, left };
}

/** The floor no tool can beat: SIGTERM to the process group, then a look at every pid each millisecond until all are gone. */
async function groupSignalRound(branches = BRANCHES): Promise<number> {
  const root = spawnGroup('bash', ['-c', treeScript(branches)], { stdio: 'ignore' });
  const members = [{ pid: root.pid as number, startTime: readStat(root.pid as number)?.startTime ?? 0 }, ...(await waitForTree(root.pid as number, branches * 4))];
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

async function treeKillRound(branches = BRANCHES): Promise<number> {
  const root = spawnGroup('bash', ['-c', treeScript(branches)], { stdio: 'ignore' });
  const members = [{ pid: root.pid as number, startTime: readStat(root.pid as number)?.startTime ?? 0 }, ...(await waitForTree(root.pid as number, branches * 4))];
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

/** Rounds of ProcScope, the bare group signal and tree-kill, alternating, on trees of `branches × 4` descendants. */
async function series(table: ProcessService, branches: number, rounds: number, treeKillRounds: number, cold = false) {
  const ours: number[] = [];
  const floor: number[] = [];
  const theirs: number[] = [];
  let left = 0;
  for (let i = 0; i < rounds; i++) {
    const round = await procscopeRound(table, branches, cold);
    ours.push(round.ms);
    left += round.left;
    floor.push(await groupSignalRound(branches));
    if (i < treeKillRounds) theirs.push(await treeKillRound(branches));
  }
  const label = `${branches * 4} descendants${cold ? ', cold' : ''}`;
  log(`${label}: ProcessTable.terminate ${ours.map((v) => round(v, 1)).join(' ')} ms`);
  log(`${label}: bare group SIGTERM ${floor.map((v) => round(v, 1)).join(' ')} ms`);
  log(`${label}: tree-kill ${theirs.map((v) => round(v, 0)).join(' ')} ms`);
  return { ours, floor, theirs, left };
}

main(async (): Promise<BenchResult> => {
  const table = benchService();
  await procscopeRound(table); // warm-up
  await groupSignalRound();
  const main200 = await series(table, BRANCHES, ROUNDS, TREE_KILL_ROUNDS);
  const cold = await series(table, BRANCHES, ROUNDS, 0, true);
  const others = [];
  for (const branches of OTHER_BRANCHES) others.push({ branches, ...(await series(table, branches, OTHER_ROUNDS, OTHER_ROUNDS)) });
  await table.detach();
  table.dispose();
  const { ours, floor, theirs } = main200;
  const leftBehind = main200.left + cold.left + others.reduce((n, o) => n + o.left, 0);
  const speedup = median(theirs) / median(ours);
  return {
    name: 'terminateTree',
    rows: [
      {
        benchmark: 'terminate tree',
        what: `terminate a tree of ${DESCENDANTS} descendants until every pid is gone (rounds alternating with tree-kill's)`,
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
      {
        benchmark: 'terminate tree',
        what: `cold: terminate a tree of ${DESCENDANTS} descendants as soon as it stands, before any poll saw it`,
        procscope: `${round(median(cold.ours), 1)} ms`,
        baseline: `${round(median(cold.floor), 1)} ms`,
        baselineName: 'bare process-group SIGTERM',
        ratio: round(median(cold.ours) / median(cold.floor), 2),
        bar: '≤ 25 ms',
        met: median(cold.ours) <= 25 && cold.left === 0,
      },
      ...others.map((o) => {
        const times = round(median(o.theirs) / median(o.ours), 0);
        return {
          benchmark: 'terminate tree',
          what: `terminate a tree of ${o.branches * 4} descendants until every pid is gone (bare group SIGTERM: ${round(median(o.floor), 1)} ms)`,
          procscope: `${round(median(o.ours), 1)} ms`,
          baseline: `${round(median(o.theirs), 0)} ms`,
          baselineName: 'tree-kill',
          ratio: round(median(o.ours) / median(o.theirs), 3),
          bar: `≥ 30× faster than tree-kill (here ${times}×)`,
          met: times >= 30 && o.left === 0,
        };
      }),
    ],
    details: {
      processTableMs: ours.map((v) => round(v)), groupSignalMs: floor.map((v) => round(v)), treeKillMs: theirs.map((v) => round(v)),
      coldMs: cold.ours.map((v) => round(v)),
      others: others.map((o) => ({ descendants: o.branches * 4, ours: o.ours.map((v) => round(v)), floor: o.floor.map((v) => round(v)), treeKill: o.theirs.map((v) => round(v)) })),
      pidsLeftAlive: leftBehind,
    },
    notes: leftBehind ? [`${leftBehind} pids were still alive after terminate() resolved`] : [],
  };
});
