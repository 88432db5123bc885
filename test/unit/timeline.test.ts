import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { LaunchedEvent, ProcessEvent } from '../../src/core/model/events';
import { ProcessState } from '../../src/core/model/state';
import { TimelineFeed, timelineModel, type TimelineBar } from '../../src/core/timeline';
import { cleanUpAll, makeService } from './helpers';

after(cleanUpAll);

/** The bars as `name:outcome` lines, indented by depth: the shape a person sees. */
function shape(bars: TimelineBar[]): string[] {
  return bars.map((bar) => `${'  '.repeat(bar.depth)}${bar.name}:${bar.outcome}${bar.removed ? ':removed' : ''}`);
}

describe('the timeline model of a real session', () => {
  it('has one bar per process, coloured by outcome, restarts on the same line, and cleared rows from the history', async () => {
    const { service } = makeService({ killTimeoutMs: 500 });
    const cleared = await service.start({ command: 'sh', args: ['-c', 'exit 7'], name: 'cleared' });
    await service.join(cleared.id);
    assert.deepEqual(await service.clearExited(), [cleared.id]);

    const alive = await service.start({ command: 'sleep', args: ['30'], name: 'alive' });
    const ok = await service.start({ command: 'true', name: 'ok' });
    const failed = await service.start({ command: 'sh', args: ['-c', 'exit 3'], name: 'failed' });
    const killed = await service.start({ command: 'sleep', args: ['30'], name: 'killed' });
    const twice = await service.start({ command: 'true', name: 'twice' });
    await Promise.all([ok, failed, twice].map((p) => service.join(p.id)));
    await service.kill(killed.id);
    await service.restart(twice.id);
    await service.join(twice.id);

    const bars = timelineModel(service.state);
    assert.deepEqual(shape(bars), ['cleared:error:removed', 'alive:alive', 'ok:ok', 'failed:error', 'killed:signal', 'twice:ok']);
    const byName = new Map(bars.map((bar) => [bar.name, bar]));
    const live = byName.get('alive') as TimelineBar;
    assert.equal(live.id, alive.id);
    assert.equal(live.to, null, 'a live bar has no end: the page draws it up to now');
    assert.equal(live.state, 'alive');
    assert.equal(byName.get('failed')?.state, 'exitcode 3');
    assert.equal(byName.get('killed')?.state, 'exitcode -9 (SIGKILL)');
    assert.equal(byName.get('cleared')?.state, 'exitcode 7');
    for (const bar of bars) if (bar.to !== null) assert.ok(bar.to >= bar.from, `${bar.name} ends after it starts`);

    const restarted = byName.get('twice') as TimelineBar;
    assert.equal(restarted.runs.length, 1, 'the first run of a restarted row is kept');
    assert.equal(restarted.runs[0].outcome, 'ok');
    assert.ok(restarted.runs[0].to <= restarted.from, 'the earlier run ends before the current one starts');
    await service.terminate(alive.id);
  });

  it('sends the page everything first, then only what changed', async () => {
    const { service } = makeService({ killTimeoutMs: 500 });
    const alive = await service.start({ command: 'sleep', args: ['30'], name: 'watched' });
    const done = await service.start({ command: 'true', name: 'quick' });
    await service.join(done.id);
    const feed = new TimelineFeed();
    const first = feed.update(service.state, [], 1000);
    assert.equal(first?.reset, true);
    assert.deepEqual(first?.bars.map((bar) => bar.name), ['watched', 'quick']);
    assert.deepEqual(first?.order, [alive.id, done.id]);
    assert.equal(feed.update(service.state, [], 1100), undefined, 'nothing changed: nothing to send');

    await service.terminate(alive.id);
    const second = feed.update(service.state, [], 1200);
    assert.equal(second?.reset, false);
    assert.deepEqual(second?.bars.map((bar) => `${bar.name}:${bar.outcome}`), ['watched:signal']);
    assert.equal(second?.order, undefined, 'the order did not change');

    await service.clearExited();
    const third = feed.update(service.state, [], 1300);
    assert.deepEqual(third?.bars.map((bar) => `${bar.name}:${bar.removed}`).sort(), ['quick:true', 'watched:true']);
    feed.reset();
    assert.equal(feed.update(service.state, [], 1400)?.bars.length, 2, 'after a reset the page gets everything again');
  });
});

function launched(id: string, fields: Partial<LaunchedEvent> = {}): LaunchedEvent {
  return {
    type: 'launched', id, name: `Process-${id.slice(1)}`, at: 1000, pid: 100 + Number(id.slice(1)), ppid: 1, startTime: 5,
    command: 'python3', args: ['main.py'], cwd: '/work', daemon: false, instrumented: true, spec: { command: 'python3', args: ['main.py'] }, outputDir: '/tmp/x', ...fields,
  };
}

function child(id: string, parentId: string, name: string, at: number): ProcessEvent {
  return { type: 'pythonStarted', id, parentId, name, at, pid: 200 + Number(id.slice(1)), ppid: 1, daemon: false, method: 'fork' };
}

function stateOf(events: ProcessEvent[]): ProcessState {
  const state = new ProcessState();
  for (const event of events) state.apply(event);
  return state;
}

describe('the timeline model: nesting, waits, readiness and history', () => {
  it('nests children under their parent, in the tree\'s order, indented by depth', () => {
    const state = stateOf([
      launched('p1'),
      child('p2', 'p1', 'worker-1', 1100),
      child('p3', 'p2', 'worker-1:1', 1200),
      child('p4', 'p1', 'worker-2', 1300),
      launched('p5', { at: 1400, definition: 'web', folder: '/work' }),
    ]);
    assert.deepEqual(shape(timelineModel(state)), ['Process-1:alive', '  worker-1:alive', '    worker-1:1:alive', '  worker-2:alive', 'Process-5:alive']);
    assert.deepEqual(timelineModel(state, ['p5']).map((bar) => bar.id), ['p5', 'p1', 'p2', 'p3', 'p4'], 'the rows the tree shows first come first');
  });

  it('marks readiness, past waits and the wait going on now', () => {
    const state = stateOf([
      launched('p1'),
      { type: 'ready', id: 'p1', ready: true, at: 1050 },
      child('p2', 'p1', 'worker', 1100),
      { type: 'wait', id: 'p2', at: 1200, waitingOn: { kind: 'Lock', site: 'bank.py:12', holder: 'Process-1' } },
      { type: 'wait', id: 'p2', at: 1300, waitingOn: null },
      { type: 'wait', id: 'p2', at: 1400, waitingOn: { kind: 'Queue.get', site: 'bank.py:20' } },
    ]);
    const [main, worker] = timelineModel(state);
    assert.equal(main.readyAt, 1050);
    assert.deepEqual(worker.waits, [
      { from: 1200, to: 1300, label: 'Lock' },
      { from: 1400, to: null, label: 'Queue.get (bank.py:20)' },
    ]);
  });

  it('keeps removed rows (cleared or folded) in place, greyed, nested under the parent they had', () => {
    const state = stateOf([
      launched('p1'),
      child('p2', 'p1', 'early', 1100),
      { type: 'exited', id: 'p2', at: 1150, exitCode: 0 },
      child('p3', 'p1', 'late', 1200),
      { type: 'folded', parentId: 'p1', ids: ['p2'] },
      launched('p4', { at: 2000 }),
      child('p5', 'p4', 'sub', 2100),
      { type: 'exited', id: 'p5', at: 2200, exitCode: -15 },
      { type: 'exited', id: 'p4', at: 2300, exitCode: 1 },
      { type: 'removed', ids: ['p4'] },
      launched('p6', { at: 3000 }),
    ]);
    assert.deepEqual(shape(timelineModel(state)), [
      'Process-1:alive',
      '  early:ok:removed',
      '  late:alive',
      'Process-4:error:removed',
      '  sub:signal:removed',
      'Process-6:alive',
    ]);
  });

  it('tells outcomes apart by exit code: alive, 0, an error, a signal, and no code known', () => {
    const state = stateOf([
      launched('p1'),
      launched('p2'), { type: 'exited', id: 'p2', at: 1100, exitCode: 0 },
      launched('p3'), { type: 'exited', id: 'p3', at: 1100, exitCode: 2 },
      launched('p4'), { type: 'exited', id: 'p4', at: 1100, exitCode: -9 },
      launched('p5'), { type: 'exited', id: 'p5', at: 1100, exitCode: null },
    ]);
    assert.deepEqual(timelineModel(state).map((bar) => `${bar.outcome} ${bar.state}`), [
      'alive alive', 'ok exitcode 0', 'error exitcode 2', 'signal exitcode -9 (SIGKILL)', 'ended ended',
    ]);
  });

  it('reuses the bars of removed rows, so a history of thousands costs nothing to diff', () => {
    const events: ProcessEvent[] = [];
    for (let i = 1; i <= 2000; i++) events.push(launched(`p${i}`, { at: i }), { type: 'exited', id: `p${i}`, at: i + 1, exitCode: 0 });
    events.push({ type: 'removed', ids: Array.from({ length: 2000 }, (_, i) => `p${i + 1}`) });
    const state = stateOf(events);
    const feed = new TimelineFeed();
    assert.equal(feed.update(state)?.bars.length, 2000);
    state.apply(launched('p2001', { at: 5000 }));
    const started = performance.now();
    const update = feed.update(state);
    const ms = performance.now() - started;
    assert.deepEqual(update?.bars.map((bar) => bar.id), ['p2001']);
    assert.equal(update?.order?.length, 2001);
    assert.ok(ms < 50, `an update with 2000 removed rows took ${ms.toFixed(1)} ms`);
  });
});
