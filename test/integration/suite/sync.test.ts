// The story of a multiprocessing program, in the real extension host: who waits on which object, deadlocks told as
// they form, a dead lock holder, the machinery named. The examples and fixtures run through the public API.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../../../src/api';
import type { ProcessSnapshot } from '../../../src/core/types';
import { api, descendantsOf, fixture, ROOT, stopEverything, waitFor } from './helpers';

const EXAMPLES = path.join(ROOT, 'examples');

describe('Synchronisation and the multiprocessing machinery, seen from inside', function () {
  this.timeout(90_000);
  let procscope: ProcScopeApi;
  before(async () => {
    procscope = await api();
  });
  after(() => stopEverything(procscope));

  const named = (root: string, name: string): ProcessSnapshot | undefined => descendantsOf(procscope, root).find((p) => p.name === name);
  const wait = (p: ProcessSnapshot | undefined) => (p ? procscope.get(p.id)?.waitingOn : undefined);

  /** Runs an example to its end, collecting every `waitingOn` any of its processes showed, as the row words it. */
  async function waitsOf(file: string): Promise<{ root: ProcessSnapshot; seen: Set<string> }> {
    const seen = new Set<string>();
    let rootId = '';
    const listening = procscope.onDidChangeProcesses(() => {
      if (!rootId) return;
      for (const p of descendantsOf(procscope, rootId)) {
        if (p.waitingOn) seen.add(`${p.name}: ${p.waitingOn.kind} (${p.waitingOn.site})${p.waitingOn.holder ? ` held by ${p.waitingOn.holder}` : ''}`);
      }
    });
    try {
      const started = await procscope.start({ command: 'python3', args: [file], cwd: EXAMPLES, name: file });
      rootId = started.id;
      const root = await procscope.join(started.id, 30_000);
      assert.equal(root.exitCode, 0, `${file} exits 0: ${procscope.output(root.id)}`);
      return { root, seen };
    } finally {
      listening.dispose();
    }
  }

  it('the deadlock example: the WARNING names both processes and both sites; both snapshots say what they wait on', async () => {
    const started = await procscope.start({ command: 'python3', args: ['23_deadlock.py'], cwd: EXAMPLES, name: '23_deadlock.py' });
    const warning = await waitFor(() => procscope.logLines().find((l) => l.includes('deadlock: ') && l.includes('23_deadlock.py')), 20_000, 'the deadlock WARNING');
    assert.match(warning, /\[WARNING\/MainProcess\] deadlock: (left waits on Lock \(23_deadlock\.py:22\) held by right, which waits on Lock \(23_deadlock\.py:21\) held by left|right waits on Lock \(23_deadlock\.py:21\) held by left, which waits on Lock \(23_deadlock\.py:22\) held by right)$/);
    assert.deepEqual(wait(named(started.id, 'left')), { kind: 'Lock', site: '23_deadlock.py:22', holder: 'right' });
    assert.deepEqual(wait(named(started.id, 'right')), { kind: 'Lock', site: '23_deadlock.py:21', holder: 'left' });
    const done = await procscope.join(started.id, 30_000);
    assert.equal(done.exitCode, 0);
    assert.deepEqual(descendantsOf(procscope, started.id).filter((p) => p.waitingOn), [], 'no wait is left once the processes ended');
  });

  it('a lock whose holder was killed is told, with the holder and how it ended', async () => {
    const started = await procscope.start({ command: 'python3', args: [fixture('python/dead_holder.py'), '10'], name: 'dead_holder' });
    const warning = await waitFor(() => procscope.logLines().find((l) => l.includes('held by holder, which exited with exitcode -9')), 20_000, 'the WARNING');
    assert.match(warning, /\[WARNING\/MainProcess\] deadlock: dead_holder waits on Lock \(dead_holder\.py:15\) held by holder, which exited with exitcode -9 \(SIGKILL\)$/);
    assert.deepEqual(procscope.get(started.id)?.waitingOn, { kind: 'Lock', site: 'dead_holder.py:15', holder: 'holder' });
    await procscope.terminate(started.id);
  });

  it('forkserver children nest under the process that started them; the forkserver is named by its role', async () => {
    const started = await procscope.start({ command: 'python3', args: [fixture('python/deadlock_method.py'), 'forkserver'], name: 'forkserver-program' });
    const rows = await waitFor(() => {
      const below = descendantsOf(procscope, started.id);
      const one = below.find((p) => p.name === 'one');
      const server = below.find((p) => p.role === 'forkserver');
      return one && server && below.find((p) => p.name === 'two') ? { one, server } : undefined;
    }, 30_000, 'the children and the forkserver');
    assert.equal(rows.one.parentId, started.id);
    assert.equal(rows.one.kind, 'python');
    assert.equal(rows.one.role, undefined);
    assert.notEqual(rows.one.ppid, rows.server.pid, 'the logical parent (the program) is its ppid in the snapshot');
    await procscope.terminate(started.id);
  });

  it('a ProcessPoolExecutor worker that calls os._exit(3) shows exitcode 3, is a pool worker, is told at ERROR, and the BrokenProcessPool in the output links to it', async () => {
    const started = await procscope.start({ command: 'python3', args: [fixture('python/broken_pool.py')], name: 'broken_pool' });
    const done = await procscope.join(started.id, 30_000);
    assert.equal(done.exitCode, 1);
    const dead = descendantsOf(procscope, started.id).find((p) => p.kind === 'python' && p.exitCode === 3);
    assert.ok(dead, 'the worker that died is listed with exitcode 3');
    assert.equal(dead.role, 'pool-worker');
    assert.ok(procscope.logLines().some((l) => l.includes(`[ERROR/${dead.name}] pool worker exited with exitcode 3`)));
    assert.match(procscope.output(started.id), /BrokenProcessPool/);
    // The BrokenProcessPool line of the output links to that worker's row.
    await vscode.commands.executeCommand('procscope.showOutput', started.id);
    const editor = await waitFor(() => vscode.window.visibleTextEditors.find((e) => e.document.uri.query === started.id), 5000, 'the output');
    const links = await vscode.commands.executeCommand<vscode.DocumentLink[]>('vscode.executeLinkProvider', editor.document.uri);
    const toWorker = links.filter((l) => l.target?.scheme === 'command');
    assert.equal(toWorker.length, 1, `links: ${links.map((l) => l.target?.toString()).join(', ')}`);
    assert.match(editor.document.lineAt(toWorker[0].range.start.line).text, /BrokenProcessPool/);
    const target = toWorker[0].target as vscode.Uri;
    assert.equal(target.path, 'procscope.revealRow');
    assert.deepEqual(JSON.parse(decodeURIComponent(target.query)), [dead.id]);
    await vscode.commands.executeCommand('procscope.revealRow', dead.id); // what a click runs: it answers without an error
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  for (const [file, expected] of [
    ['16_event.py', 'blocking: Event (16_event.py:20)'],
    ['17_lock.py', ': Lock (17_lock.py:17) held by worker-'],
    ['18_condition.py', 'consumer-1: Condition (18_condition.py:22)'],
    ['19_semaphore.py', ': Semaphore (19_semaphore.py:16)'],
    ['20_queue.py', 'consumer-1: Queue.get (20_queue.py:18)'],
  ]) {
    it(`${file}: the waits it makes are shown where they happen (${expected.replace(/^: /, '')})`, async () => {
      const { seen } = await waitsOf(file);
      assert.ok([...seen].some((s) => s.includes(expected)), `expected a wait "${expected}", saw ${JSON.stringify([...seen])}`);
    });
  }

  it('21_pool_map.py: the pool workers are pool workers, daemons, and end', async () => {
    const started = await procscope.start({ command: 'python3', args: ['21_pool_map.py'], cwd: EXAMPLES });
    const done = await procscope.join(started.id, 30_000);
    assert.equal(done.exitCode, 0);
    assert.match(procscope.output(started.id), /squares: \[0, 1, 4, 9, 16, 25, 36, 49, 64, 81\]/);
    const workers = descendantsOf(procscope, started.id).filter((p) => p.kind === 'python');
    assert.equal(workers.length, 3);
    assert.ok(workers.every((p) => p.role === 'pool-worker' && p.daemon && !p.alive), JSON.stringify(workers));
  });

  it('22_manager.py: the manager\'s server process is named by its role', async () => {
    const started = await procscope.start({ command: 'python3', args: ['22_manager.py'], cwd: EXAMPLES });
    const done = await procscope.join(started.id, 30_000);
    assert.equal(done.exitCode, 0);
    assert.match(procscope.output(started.id), /dict: \{0: 0, 1: 10, 2: 20\}/);
    assert.ok(descendantsOf(procscope, started.id).some((p) => p.role === 'manager'), JSON.stringify(descendantsOf(procscope, started.id).map((p) => [p.name, p.role])));
  });
});
