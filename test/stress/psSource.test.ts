// The ps path (macOS and the BSDs) run for real on Linux: a supervisor whose process source is PsSource discovers a
// launched tree and ends it.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createProcessSource, PsSource } from '../../src/core/os/processSource';
import { cleanUpAll, makeSupervisor, tempDir, waitFor } from '../unit/helpers';
import { childrenOf, isGone, recordFigures } from './stress';

after(cleanUpAll);

describe('the ps-based process source on a real tree', () => {
  it('createProcessSource picks ps on darwin and freebsd', () => {
    assert.ok(createProcessSource('darwin') instanceof PsSource);
    assert.ok(createProcessSource('freebsd') instanceof PsSource);
  });

  it('a supervisor with PsSource discovers a launched tree (children and a grandchild) and terminate ends all of it', async () => {
    const source = new PsSource();
    const supervisor = makeSupervisor({ source }, { killTimeoutMs: 1000 });
    const root = await supervisor.start({ spec: { command: 'bash', args: ['-c', 'sleep 300 & sleep 301 & (bash -c "sleep 302 & wait") & wait'], name: 'ps-tree' }, cwd: tempDir() });
    assert.ok(root.pid);
    assert.notEqual(root.startedAt, 0);
    const below = () => supervisor.state.snapshots().filter((s) => s.id !== root.id);
    const found = await waitFor(() => {
      const alive = below().filter((s) => s.alive);
      const sleeps = alive.filter((s) => s.command === 'sleep' || /sleep/.test(s.name));
      return sleeps.length >= 3 ? alive : undefined;
    }, 20_000, 'three sleeps discovered through ps');
    for (const row of found) assert.equal(row.kind, 'discovered');
    const pids = found.map((s) => s.pid as number);
    // ps saw the same tree /proc shows.
    const table = await source.all();
    for (const pid of pids) assert.ok(table.has(pid), `ps lists ${pid}`);
    assert.ok((table.get(root.pid as number)?.startTime ?? 0) > 0, 'lstart parsed');
    const started = Date.now();
    const ended = await supervisor.terminate(root.id);
    const terminateMs = Date.now() - started;
    assert.equal(ended.alive, false);
    assert.equal(ended.exitCode, -15);
    for (const pid of [root.pid as number, ...pids]) assert.ok(isGone(pid), `${pid} survived terminate`);
    await waitFor(() => supervisor.state.snapshots().every((s) => !s.alive), 10_000, 'every row ended');
    assert.deepEqual(childrenOf(root.pid as number), []);
    recordFigures('psSource', { discovered: found.length, rows: found.map((s) => `${s.name} (${s.command})`), terminateMs });
  });
});
