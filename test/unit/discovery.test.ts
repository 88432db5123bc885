import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { OsProcess } from '../../src/core/os/osProcess';
import { readStat } from '../../src/core/os/procfs';
import { ProcfsSource } from '../../src/core/os/processSource';
import type { ProcessSnapshot } from '../../src/core/types';
import { cleanUpAll, fixture, isRunning, makeService, makeSupervisor, tempDir, waitFor } from './helpers';

after(cleanUpAll);

const { service } = makeService({ pollIntervalMs: 100, killTimeoutMs: 1000 });

function below(id: string): ProcessSnapshot[] {
  const children = service.processes().filter((p) => p.parentId === id);
  return children.flatMap((p) => [p, ...below(p.id)]);
}

/** Everything the tree shows below `id`, while it runs and once it ended: polled until `done`. */
async function watchRows(id: string, done: () => boolean, timeoutMs = 30_000): Promise<Map<string, ProcessSnapshot>> {
  const seen = new Map<string, ProcessSnapshot>();
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) {
    for (const p of below(id)) seen.set(p.id, p);
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const p of below(id)) seen.set(p.id, p);
  return seen;
}

describe('which descendants are rows: launchers are not children', () => {
  it('a pyenv-style shim: its helpers never become rows, the program\'s children nest under the launched row', async () => {
    const root = await service.start({ command: fixture('launchers/shims/python3'), args: [fixture('python/two_children.py')], name: 'shimmed' });
    const rows = await watchRows(root.id, () => service.get(root.id)?.alive === false);
    await service.join(root.id);
    const all = [...rows.values()];
    const python = all.filter((p) => p.kind === 'python').map((p) => [p.name, p.parentId]);
    assert.deepEqual(python.sort(), [['alpha', root.id], ['beta', root.id]]);
    const discovered = all.filter((p) => p.kind === 'discovered');
    assert.deepEqual(discovered.map((p) => `${p.name} ${p.command} ${p.args.join(' ')}`), [`shimmed:1 sleep 1.5`], 'only the program\'s own subprocess');
    assert.equal(service.output(root.id), 'done\n');
  });

  it('a wrapper that spawns the interpreter: the program is the row its children nest under, the wrapper a launcher', async () => {
    const root = await service.start({ command: fixture('launchers/wrap-run'), args: ['python3', fixture('python/two_children.py')], name: 'wrapped', instrument: 'python' });
    const rows = await watchRows(root.id, () => service.get(root.id)?.alive === false);
    await service.join(root.id);
    const all = [...rows.values()];
    const program = all.find((p) => p.name === 'MainProcess');
    assert.ok(program, `no MainProcess row among ${JSON.stringify(all.map((p) => p.name))}`);
    assert.equal(program.parentId, root.id);
    assert.equal(service.get(root.id)?.role, 'launcher');
    const python = all.filter((p) => p.kind === 'python').map((p) => [p.name, p.parentId]);
    assert.deepEqual(python.sort(), [['alpha', program.id], ['beta', program.id]]);
    const helpers = all.filter((p) => p.parentId === root.id && p.id !== program.id);
    assert.deepEqual(helpers.map((p) => p.name), [], 'the wrapper\'s helpers are not rows');
    assert.deepEqual(all.filter((p) => p.kind === 'discovered' && p.parentId === program.id).map((p) => p.command), ['sleep'], 'the program\'s own subprocess is');
  });
});

describe('which descendants are rows: short lives and many ends', () => {
  it('children that live less than a poll interval are no rows; ended ones beyond the last three fold into a count', async () => {
    const script = 'for i in $(seq 30); do /bin/true; done; for i in $(seq 8); do sleep 0.5; done; sleep 30 & wait';
    const root = await service.start({ command: 'bash', args: ['-c', script], name: 'loop' });
    await waitFor(() => below(root.id).some((p) => p.alive && p.args[0] === '30'), 30_000, 'the last sleep');
    const rows = below(root.id);
    assert.deepEqual(rows.filter((p) => p.command.endsWith('true')), [], 'no row for a child that lived under a poll interval');
    const ended = rows.filter((p) => !p.alive);
    assert.ok(ended.length <= 3, `${ended.length} ended rows shown`);
    const folded = service.row(root.id)?.foldedEnded ?? 0;
    assert.ok(folded + ended.length >= 4, `only ${folded} folded and ${ended.length} shown of 8 half-second children`);
    const last = rows.find((p) => p.args[0] === '30') as ProcessSnapshot;
    assert.equal(last.name, `loop:${service.row(root.id)?.childCounter}`, 'names count rows, not every child');
    await service.terminate(root.id);
  });

  it('a child shown before it execs shows the command it became', async () => {
    const go = join(tempDir(), 'go');
    const script = '(until [ -e "$0" ]; do sleep 0.05; done; exec sleep 120) & wait';
    const root = await service.start({ command: 'bash', args: ['-c', script, go], name: 'execs-later' });
    const child = await waitFor(() => below(root.id).find((p) => p.alive && p.command === 'bash'), 30_000, 'the subshell as a row');
    writeFileSync(go, '');
    await waitFor(() => service.get(child.id)?.command === 'sleep' ? true : undefined, 30_000, `the row ${child.name} to show sleep after its exec`);
    assert.deepEqual(service.get(child.id)?.args, ['120']);
    await service.terminate(root.id);
  });

  it('tracks a parent with 1000 direct children, and terminate ends every one', async () => {
    const root = await service.start({ command: 'bash', args: ['-c', 'for i in $(seq 1000); do sleep 120 & done; wait'], name: 'wide' });
    const children = await waitFor(() => {
      const found = below(root.id).filter((p) => p.alive);
      return found.length >= 1000 ? found : undefined;
    }, 60_000, '1000 child rows');
    assert.equal(children.length, 1000);
    const pids = children.map((p) => p.pid as number);
    await service.terminate(root.id);
    assert.deepEqual(pids.filter(isRunning), []);
  });
});

describe('processes that leave the tree', () => {
  it('a setsid escapee that leaves before the first poll is found by its mark, shown, and ended by terminate', async () => {
    const root = await service.start({ command: 'bash', args: ['-c', 'setsid sleep 120 & exit 0'], name: 'escaping' });
    await service.join(root.id);
    const escapee = await waitFor(() => below(root.id).find((p) => p.alive && p.command === 'sleep'), 10_000, 'the escapee');
    assert.match(service.row(escapee.id)?.escaped ? 'escaped' : '', /escaped/);
    await service.terminate(root.id);
    assert.ok(!isRunning(escapee.pid as number), 'the escapee survived terminate');
  });

  for (const how of ['terminate', 'Stop All'] as const) {
    it(`a background child in the group outlives its leader: it is tracked, shown, and ended by ${how}`, async () => {
      const root = await service.start({ command: 'sh', args: ['-c', 'echo hi; sleep 120 & exit 0'], name: 'leaves-one' });
      const joined = await service.join(root.id);
      assert.equal(joined.exitCode, 0);
      const member = await waitFor(() => below(root.id).find((p) => p.alive && p.command === 'sleep'), 10_000, 'the group member');
      if (how === 'terminate') await service.terminate(root.id);
      else await service.stopAll();
      assert.ok(!isRunning(member.pid as number), `the group member survived ${how}`);
      assert.equal(service.output(root.id), 'hi\n');
    });
  }
});

describe('a launched process\'s identity', () => {
  it('its start stamp, not read on the start\'s path, is the OS\'s once its tree was polled', async () => {
    const root = await service.start({ command: 'sleep', args: ['30'], name: 'stamped' });
    try {
      const stamp = readStat(root.pid as number)?.startTime;
      assert.ok(stamp !== undefined && stamp > 0);
      await waitFor(() => service.row(root.id)?.startTime === stamp, 10_000, 'the start stamp');
    } finally {
      await service.terminate(root.id);
    }
  });
});

describe('polls during a burst of starts', () => {
  it('starts a few ms apart do not keep the first poll away: a child of the first is shown while they go on', async () => {
    const first = await service.start({ command: 'sh', args: ['-c', 'sleep 30 & wait'], name: 'burst-first' });
    const ids = [first.id];
    let shownAfter: number | undefined;
    try {
      // Each start asks for its own first poll; every one of them used to put off the poll the one before asked for.
      for (let i = 0; i < 60 && shownAfter === undefined; i++) {
        ids.push((await service.start({ command: 'sleep', args: ['30'], name: `burst-${i}` })).id);
        if (below(first.id).some((p) => p.command === 'sleep')) shownAfter = i + 1;
        await new Promise((r) => setTimeout(r, 10)); // the pace of the burst
      }
    } finally {
      await Promise.all(ids.map((id) => service.terminate(id)));
    }
    assert.ok(shownAfter !== undefined, 'the child of the first start was not shown while 60 more started');
  });
});

describe('a slow process table (ps, as on macOS)', () => {
  /** Answers like /proc, 50 ms late: a process can exit while its launch is still looking it up. */
  class SlowSource extends ProcfsSource {
    override async get(pid: number): Promise<OsProcess | undefined> {
      const answer = await super.get(pid);
      await new Promise((r) => setTimeout(r, 50));
      return answer;
    }
  }

  it('a process that exits while its launch is looked up is still seen to exit', async () => {
    const supervisor = makeSupervisor({ source: new SlowSource() });
    for (let i = 0; i < 5; i++) {
      const p = await supervisor.start({ spec: { command: 'true' }, cwd: '/' });
      await waitFor(() => supervisor.state.get(p.id)?.settled, 2000, `${p.name} to be reaped`);
      assert.equal(supervisor.state.snapshot(p.id)?.alive, false);
      assert.equal(supervisor.state.snapshot(p.id)?.exitCode, 0);
    }
  });
});
