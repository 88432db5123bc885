// Synchronisation made visible (SPEC §3): who waits on which object, who holds it, deadlocks as they form. Real Python
// programs (the examples and fixtures) under a real supervisor, whose rows and log are read as the extension reads them.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { findBrokenPoolLinks } from '../../src/core/brokenPool';
import type { ReadonlyRow } from '../../src/core/model/row';
import { cleanUpAll, fixture, makeService, ROOT, waitFor } from './helpers';
import { pythonMissing } from './instrumentHarness';

after(cleanUpAll);

const example = (name: string) => resolve(ROOT, 'examples', name);
const missing = pythonMissing();

describe('synchronisation made visible', { skip: missing }, () => {
  const { service, logger } = makeService({ pollIntervalMs: 200 });
  const rowNamed = (rootId: string, name: string): ReadonlyRow | undefined => service.state.subtree(rootId).find((r) => r.name === name);

  it('a deadlock: both waits, both holders and both sites, told at WARNING within a second of forming, the rows marked', async () => {
    const program = await service.start({ command: 'python3', args: [example('23_deadlock.py')], cwd: resolve(ROOT, 'examples') });
    const warning = await waitFor(() => logger.lines().find((l) => l.includes('deadlock: ')), 20_000, 'the deadlock WARNING');
    const toldAt = Date.now();
    assert.match(warning, /^\[WARNING\/MainProcess\] deadlock: (left waits on Lock \(23_deadlock\.py:22\) held by right, which waits on Lock \(23_deadlock\.py:21\) held by left|right waits on Lock \(23_deadlock\.py:21\) held by left, which waits on Lock \(23_deadlock\.py:22\) held by right)$/);
    const left = rowNamed(program.id, 'left');
    const right = rowNamed(program.id, 'right');
    assert.ok(left && right, 'both workers are rows');
    assert.deepEqual(service.get(left.id)?.waitingOn, { kind: 'Lock', site: '23_deadlock.py:22', holder: 'right' });
    assert.deepEqual(service.get(right.id)?.waitingOn, { kind: 'Lock', site: '23_deadlock.py:21', holder: 'left' });
    assert.ok(left.deadlocked && right.deadlocked, 'both rows are marked');
    const formedAt = Math.max(left.waitingSince ?? Infinity, right.waitingSince ?? Infinity);
    assert.ok(toldAt - formedAt <= 1000, `told ${toldAt - formedAt} ms after the cycle formed`);
    await service.join(program.id, 20_000);
    assert.equal(logger.lines().filter((l) => l.includes('deadlock: ')).length, 1, logger.lines().filter((l) => l.includes('deadlock: ')).join('\n'));
    assert.equal(service.row(left.id)?.deadlocked, false, 'the mark goes with the processes');
  });

  for (const method of ['spawn', 'forkserver']) {
    it(`a deadlock between ${method} children: the same locks are the same objects in every process`, async () => {
      const before = logger.lines().length;
      const program = await service.start({ command: 'python3', args: [fixture('python/deadlock_method.py'), method] });
      const warning = await waitFor(() => logger.lines().slice(before).find((l) => l.includes('deadlock: ')), 30_000, 'the deadlock WARNING');
      assert.match(warning, /deadlock: (one waits on Lock \(deadlock_method\.py:17\) held by two, which waits on Lock \(deadlock_method\.py:16\) held by one|two waits on Lock \(deadlock_method\.py:16\) held by one, which waits on Lock \(deadlock_method\.py:17\) held by two)$/);
      await service.terminate(program.id);
    });
  }

  it('a lock the program drops goes at once, with its finalizer, as without the helper (no reference cycle)', async () => {
    const program = await service.start({ command: 'python3', args: [fixture('python/lock_lifetime.py')] });
    const done = await service.join(program.id, 20_000);
    assert.equal(done.exitCode, 0);
    assert.equal(service.output(program.id), 'finalizers left: 0\n');
  });

  it('a Queue.get that nobody can feed (every other process of the program waits) is hinted at INFO; a fed queue is not', async () => {
    const program = await service.start({ command: 'python3', args: [fixture('python/queue_no_producer.py')] });
    const hint = await waitFor(() => logger.lines().find((l) => l.includes('hint: consumer waits on Queue.get')), 20_000, 'the hint');
    assert.equal(hint, '[INFO/MainProcess] hint: consumer waits on Queue.get (queue_no_producer.py:10), and no other process of the program is running to put anything there');
    await service.terminate(program.id);
    const fed = await service.start({ command: 'python3', args: [example('20_queue.py')], cwd: resolve(ROOT, 'examples') });
    assert.equal((await service.join(fed.id, 30_000)).exitCode, 0);
    assert.ok(!logger.lines().some((l) => l.includes('hint: ') && l.includes('20_queue.py')), 'no hint for a queue that is fed');
  });

  it('a lock whose holder was killed: the waiter is told who held it and how it ended', async () => {
    const program = await service.start({ command: 'python3', args: [fixture('python/dead_holder.py'), '5'] });
    const warning = await waitFor(() => logger.lines().find((l) => l.includes('which exited with exitcode -9')), 20_000, 'the WARNING on the dead holder');
    assert.match(warning, new RegExp(`^\\[WARNING/MainProcess\\] deadlock: ${program.name.replace(/[.]/g, '\\.')} waits on Lock \\(dead_holder\\.py:15\\) held by holder, which exited with exitcode -9 \\(SIGKILL\\)$`));
    assert.deepEqual(service.get(program.id)?.waitingOn, { kind: 'Lock', site: 'dead_holder.py:15', holder: 'holder' });
    await service.terminate(program.id);
  });

  it('contention alone is no deadlock: eight processes take turns on one Lock for 5 s, with waits seen and no warning', async () => {
    const program = await service.start({ command: 'python3', args: [fixture('python/contention.py'), '5'] });
    let waitsSeen = 0;
    const counting = service.onDidChange((ids) => {
      for (const id of ids) if (service.row(id)?.waitingOn?.kind === 'Lock') waitsSeen++;
    });
    try {
      const done = await service.join(program.id, 60_000);
      assert.equal(done.exitCode, 0);
    } finally {
      counting.dispose();
    }
    const pastWaits = service.state.subtree(program.id).reduce((n, r) => n + r.waits.length, 0);
    assert.ok(waitsSeen > 0 && pastWaits > 0, `waits were reported (${waitsSeen} seen, ${pastWaits} kept)`);
    assert.deepEqual(logger.lines().filter((l) => l.includes('deadlock: ') && l.includes('contention')), []);
    assert.ok(!logger.lines().some((l) => /deadlock: Process-\d+ waits on Lock \(contention\.py/.test(l)), 'no deadlock told');
  });

  it('Event, Condition, Semaphore, Queue and Process.join waits are shown with their creation sites', async () => {
    const cases: [string, string, string][] = [
      ['16_event.py', 'blocking', 'Event (16_event.py:20)'],
      ['18_condition.py', 'consumer-1', 'Condition (18_condition.py:22)'],
      ['19_semaphore.py', '', 'Semaphore (19_semaphore.py:16)'],
      ['20_queue.py', 'consumer-1', 'Queue.get (20_queue.py:18)'],
      ['17_lock.py', '', 'Lock (17_lock.py:17) held by worker-'],
    ];
    for (const [file, name, expected] of cases) {
      const program = await service.start({ command: 'python3', args: [example(file)], cwd: resolve(ROOT, 'examples') });
      const seen = new Set<string>();
      const watching = service.onDidChange((ids) => {
        for (const id of ids) {
          const row = service.row(id);
          if (row?.waitingOn && (!name || row.name === name)) seen.add(`${row.waitingOn.kind} (${row.waitingOn.site})${row.waitingOn.holder ? ` held by ${row.waitingOn.holder}` : ''}`);
        }
      });
      try {
        const done = await service.join(program.id, 30_000);
        assert.equal(done.exitCode, 0, `${file} exits 0`);
      } finally {
        watching.dispose();
      }
      // Seen live with its site and holder; or, if a wait began and ended within one batch of changes (a loaded
      // machine), kept in the row's history of waits with its kind.
      const kind = expected.split(' ')[0];
      const kept = service.state.subtree(program.id).filter((r) => (!name || r.name === name) && r.waits.some((w) => w.label === kind));
      assert.ok([...seen].some((s) => s.startsWith(expected)) || kept.length > 0, `${file}: expected a wait "${expected}…", saw ${JSON.stringify([...seen])}`);
      // The program's main process joins its children: a wait on a process, named.
      assert.ok(service.state.subtree(program.id).every((r) => !r.waitingOn), `${file}: no wait outlives the program`);
    }
  });

  it('the main program joining a child waits on that child by name', async () => {
    // At exit the main process terminates the daemon and then joins every child left, in no fixed order: the join
    // on the terminated daemon is brief but may be seen too. The join on the non-daemon child lasts its 0.5 s sleep.
    const joins = new Set<string>();
    const watching = service.onDidChange((ids) => {
      for (const id of ids) {
        const row = service.row(id);
        if (row?.waitingOn && row.name !== 'daemon' && row.name !== 'non-daemon') joins.add(`${row.waitingOn.kind} ${row.waitingOn.holder}`);
      }
    });
    try {
      const program = await service.start({ command: 'python3', args: [example('05_daemon.py')], cwd: resolve(ROOT, 'examples') });
      await service.join(program.id, 20_000);
      assert.ok(joins.has('Process.join non-daemon'), `the main process was seen joining non-daemon: ${JSON.stringify([...joins])}`);
      assert.ok([...joins].every((j) => j.startsWith('Process.join ')), JSON.stringify([...joins]));
    } finally {
      watching.dispose();
    }
  });
});

describe('the multiprocessing machinery, named', { skip: missing }, () => {
  const { service, logger } = makeService({ pollIntervalMs: 100 });

  it('a ProcessPoolExecutor worker that dies shows its exit code, is a pool-worker, and is told at ERROR', async () => {
    const program = await service.start({ command: 'python3', args: [fixture('python/broken_pool.py')] });
    const done = await service.join(program.id, 30_000);
    assert.equal(done.exitCode, 1, 'BrokenProcessPool ends the program');
    const workers = service.state.subtree(program.id).filter((r) => r.kind === 'python');
    assert.ok(workers.length >= 1 && workers.every((r) => r.role === 'pool-worker'), JSON.stringify(workers.map((r) => [r.name, r.role])));
    const dead = workers.find((r) => r.exitCode === 3);
    assert.ok(dead, `a worker with exitcode 3: ${JSON.stringify(workers.map((r) => [r.name, r.exitCode]))}`);
    assert.ok(logger.lines().includes(`[ERROR/${dead.name}] pool worker exited with exitcode 3: its pool cannot go on (a ProcessPoolExecutor raises BrokenProcessPool)`), logger.lines().join('\n'));
    assert.match(service.output(program.id), /BrokenProcessPool/);
  });

  it("the BrokenProcessPool traceback in the program's output leads to the worker that died, by row and pid", async () => {
    const program = await service.start({ command: 'python3', args: [fixture('python/broken_pool.py')] });
    assert.equal((await service.join(program.id, 30_000)).exitCode, 1);
    const rows = service.state.subtree(program.id);
    const dead = rows.find((r) => r.role === 'pool-worker' && r.exitCode === 3);
    assert.ok(dead, `a worker with exitcode 3: ${JSON.stringify(rows.map((r) => [r.name, r.exitCode]))}`);
    const output = service.output(program.id);
    const links = findBrokenPoolLinks(output, rows);
    assert.equal(links.length, 1, output);
    const [link] = links;
    const line = output.split('\n')[link.line];
    assert.match(line, /^concurrent\.futures\.process\.BrokenProcessPool: /, 'the exception line, not the program\'s own "broken: …" print');
    assert.equal(line.slice(link.start, link.end), 'concurrent.futures.process.BrokenProcessPool');
    assert.equal(link.worker.id, dead.id);
    assert.equal(link.tooltip, `Caused by pool worker ${dead.name} (pid ${dead.pid}), which exited with exitcode 3: reveal its row`);
  });

  it('forkserver children nest under the process that started them, not under the forkserver, which is named', async () => {
    const program = await service.start({ command: 'python3', args: [fixture('python/deadlock_method.py'), 'forkserver'] });
    const children = await waitFor(() => {
      const rows = service.state.subtree(program.id);
      const one = rows.find((r) => r.name === 'one');
      const server = rows.find((r) => r.role === 'forkserver');
      return one && two(rows) && server ? { one, server } : undefined;
    }, 20_000, 'the children and the forkserver');
    assert.equal(children.one.parentId, program.id, 'one nests under the program (its logical parent)');
    assert.equal(children.one.osParentPid, children.server.pid, 'the forkserver forked it');
    assert.equal(children.one.role, undefined, 'a Process, not the forkserver');
    await service.terminate(program.id);
  });

  it('a forkserver child that starts processes gets a forkserver of its own, shown under it, and its children nest under it, not under that forkserver', async () => {
    const program = await service.start({ command: 'python3', args: [fixture('python/child_forkserver.py')] });
    const seen = await waitFor(() => {
      const rows = service.state.subtree(program.id);
      const outer = rows.find((r) => r.name === 'outer');
      const inners = rows.filter((r) => r.name === 'inner-1' || r.name === 'inner-2');
      const servers = rows.filter((r) => r.role === 'forkserver');
      return outer && inners.length === 2 && servers.length === 2 ? { outer, inners, servers } : undefined;
    }, 20_000, 'outer, inner-1, inner-2 and two forkservers');
    const { outer, inners, servers } = seen;
    const mainServer = servers.find((r) => r.parentId === program.id);
    const outerServer = servers.find((r) => r.parentId === outer.id);
    const where = JSON.stringify(service.state.subtree(program.id).map((r) => [r.name, r.pid, r.parentId, r.role, r.osParentPid]));
    assert.equal(outer.parentId, program.id, `outer nests under the program: ${where}`);
    assert.ok(mainServer, `the program's forkserver is under the program: ${where}`);
    assert.ok(outerServer, `outer's own forkserver is under outer: ${where}`);
    assert.notEqual(outerServer.pid, mainServer.pid, 'two forkservers, not one');
    assert.equal(outer.osParentPid, mainServer.pid, "the program's forkserver forked outer");
    for (const inner of inners) {
      assert.equal(inner.parentId, outer.id, `${inner.name} nests under outer (its logical parent): ${where}`);
      assert.equal(inner.osParentPid, outerServer.pid, `outer's forkserver forked ${inner.name}: ${where}`);
      assert.equal(inner.role, undefined, `${inner.name} is a Process, not a forkserver`);
    }
    const done = await service.join(program.id, 30_000);
    assert.equal(done.exitCode, 0);
    assert.equal(service.output(program.id), 'outer 0\n');
  });
});

function two(rows: readonly ReadonlyRow[]): ReadonlyRow | undefined {
  return rows.find((r) => r.name === 'two');
}
