// Measures one refresh of the Processes view provider with 500 rows (plain Node, stand-in vscode), and refreshes/s under churn.
import { benchService, log, main, median, round, sleep, type BenchResult } from './common';
import { installVscodeStandIn } from '../test/fixtures/vscodeStandIn';

const ROOTS = 10;
const CHILDREN = 49; // 10 launched roots + 490 discovered sleepers = 500 rows
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 51);
const CHURN_SECONDS = 3;

main(async (): Promise<BenchResult> => {
  installVscodeStandIn();
  // Loaded only now, so that its require('vscode') finds the stand-in.
  const { ProcessTreeProvider } = await import('../src/tree/processTreeProvider');
  const table = benchService({ pollIntervalMs: 1000 });
  const provider = new ProcessTreeProvider(table);
  try {
    const roots = [];
    for (let i = 0; i < ROOTS; i++) {
      roots.push(await table.start({ command: 'bash', args: ['-c', `for ((i = 0; i < ${CHILDREN}; i++)); do sleep 600 & done; wait`] }));
    }
    const expected = ROOTS * (CHILDREN + 1);
    for (let i = 0; i < 400 && table.processes().filter((p) => p.alive).length < expected; i++) {
      await table.poll();
      await sleep(20);
    }
    const rowsAlive = table.processes().filter((p) => p.alive).length;
    if (rowsAlive !== expected) throw new Error(`the table shows ${rowsAlive} live processes, expected ${expected}`);

    let rows = 0;
    const refresh = (): void => {
      const stack = [...provider.getChildren()];
      while (stack.length > 0) {
        const id = stack.pop() as string;
        provider.getTreeItem(id);
        rows++;
        stack.push(...provider.getChildren(id));
      }
    };
    for (let i = 0; i < 5; i++) refresh();
    rows = 0;
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      refresh();
      times.push(performance.now() - t);
    }
    const rowsPerRefresh = rows / ROUNDS;
    log(`refresh of ${rowsPerRefresh} rows: median ${round(median(times), 2)} ms, max ${round(Math.max(...times), 2)} ms`);

    // Churn: a short process started every 5 ms while the 500 rows are polled and sampled.
    let tableEvents = 0;
    let viewRefreshes = 0;
    const counting = [table.onDidChange(() => tableEvents++), provider.onDidChangeTreeData(() => viewRefreshes++)];
    const started = Date.now();
    const churn: Promise<unknown>[] = [];
    while (Date.now() - started < CHURN_SECONDS * 1000) {
      churn.push(table.start({ command: '/bin/true' }).then((p) => table.join(p.id)));
      await sleep(5);
    }
    await Promise.all(churn);
    const seconds = (Date.now() - started) / 1000;
    await sleep(150);
    counting.forEach((d) => d.dispose());
    const perSecond = viewRefreshes / seconds;
    log(`churn: ${churn.length} processes in ${round(seconds, 1)} s; ${tableEvents} table change events → ${viewRefreshes} view refreshes (${round(perSecond, 1)}/s)`);

    for (const root of roots) await table.kill(root.id);
    return {
      name: 'treeView',
      rows: [
        {
          benchmark: 'tree view',
          what: `one refresh of ${rowsPerRefresh} rows (getChildren of every level + getTreeItem of every row)`,
          procscope: `${round(median(times), 2)} ms`,
          bar: '≤ 20 ms',
          met: median(times) <= 20,
        },
        {
          benchmark: 'tree view',
          what: `view refreshes under churn (${churn.length} processes started in ${round(seconds, 1)} s, ${tableEvents} table change events)`,
          procscope: `${round(perSecond, 1)} /s`,
          bar: '≤ ~10 /s (≤ 11)',
          met: perSecond <= 11,
        },
      ],
      details: { refreshMs: times.map((v) => round(v, 3)), rowsPerRefresh, churn: { processes: churn.length, seconds, tableEvents, viewRefreshes } },
      notes: [
        'The provider runs in plain Node with a stand-in for the `vscode` module (test/fixtures/vscodeStandIn.ts): what is timed is the ' +
          'provider’s own work; the extension host then serialises each TreeItem for the renderer, which is VS Code’s cost.',
      ],
    };
  } finally {
    provider.dispose();
    await table.detach();
    table.dispose();
  }
});
