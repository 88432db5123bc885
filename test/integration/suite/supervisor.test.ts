import * as assert from 'node:assert/strict';
import type { ProcScopeApi } from '../../../src/api';
import { api, descendantsOf, isRunning, ownerMark, processesMarkedBy, stopEverything, waitFor } from './helpers';

describe('The supervisor process, seen from the extension host', () => {
  let procscope: ProcScopeApi;
  before(async () => {
    procscope = await api();
  });
  after(() => stopEverything(procscope));

  it('is the parent of launched processes, not the extension host (the host never forks for a launch)', async () => {
    const p = await procscope.start({ command: 'sleep', args: ['30'] });
    assert.notEqual(p.ppid, process.pid);
    assert.ok(isRunning(p.ppid), 'the supervisor runs');
    await procscope.kill(p.id);
  });

  it('SIGKILLed: nothing is orphaned, the error is logged, and the next start works with a new supervisor', async () => {
    const tree = await procscope.start({ command: 'bash', args: ['-c', 'sleep 300 & sleep 300 & wait'], name: 'orphan-candidate' });
    const daemon = await procscope.start({ command: 'sleep', args: ['300'], daemon: true, name: 'orphan-daemon' });
    await waitFor(() => descendantsOf(procscope, tree.id).filter((p) => p.alive).length === 2, 20_000, 'the tree\'s children');
    const pids = [tree, daemon, ...descendantsOf(procscope, tree.id)].map((p) => p.pid as number);
    const owner = ownerMark(tree.pid as number)?.split('/')[0];
    assert.ok(owner, 'launched processes carry the PROCSCOPE_OWNER mark');
    const marked = processesMarkedBy(owner);
    assert.ok(pids.every((pid) => marked.includes(pid)), `the mark finds every process started: ${JSON.stringify(pids)} in ${JSON.stringify(marked)}`);
    const supervisor = tree.ppid as number;
    const record = `[ERROR/MainProcess] the supervisor process (pid ${supervisor}) ended unexpectedly`;
    let loggedAt: number | undefined;
    const listening = procscope.onDidLog((line) => {
      if (line.includes(record)) loggedAt ??= Date.now();
    });
    const killedAt = Date.now();
    process.kill(supervisor, 'SIGKILL');
    try {
      // Judged from outside: no process carrying the mark is left, whoever its parent is now.
      await waitFor(() => processesMarkedBy(owner).length === 0, 5000, `every process marked ${owner} to be gone`);
      await waitFor(() => loggedAt !== undefined, 5000, 'the ERROR record');
    } finally {
      listening.dispose();
    }
    assert.ok((loggedAt as number) - killedAt <= 1000, `the host noticed ${(loggedAt as number) - killedAt} ms after the kill (at most 1000)`);
    await waitFor(() => procscope.get(tree.id)?.alive === false, 3000, 'the row to show the tree ended');
    const next = await procscope.start({ command: 'sh', args: ['-c', 'echo after'] });
    assert.notEqual(next.ppid, supervisor);
    const joined = await procscope.join(next.id);
    assert.equal(joined.exitCode, 0);
    assert.equal(procscope.output(next.id), 'after\n');
  });
});
