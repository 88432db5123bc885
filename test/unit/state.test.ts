import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LaunchedEvent, ProcessEvent } from '../../src/core/model/events';
import { ProcessState } from '../../src/core/model/state';

function launched(id: string, fields: Partial<LaunchedEvent> = {}): LaunchedEvent {
  return {
    type: 'launched', id, name: `Process-${id.slice(1)}`, at: 1000, pid: 100 + Number(id.slice(1)), ppid: 1, startTime: 5,
    command: 'sleep', args: ['9'], cwd: '/work', daemon: false, instrumented: false, spec: { command: 'sleep', args: ['9'] }, outputDir: '/tmp/x', ...fields,
  };
}

function stateOf(events: ProcessEvent[]): ProcessState {
  const state = new ProcessState();
  for (const event of events) state.apply(event);
  return state;
}

const flush = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('the reducer: events in, snapshots out', () => {
  it('turns a launch and an exit into the snapshot multiprocessing would show', () => {
    const state = stateOf([launched('p1'), { type: 'exited', id: 'p1', at: 1500, exitCode: -15 }]);
    const p = state.snapshot('p1');
    assert.deepEqual(p, {
      id: 'p1', name: 'Process-1', pid: 101, ppid: 1, parentId: null, daemon: false, alive: false, exitCode: -15, status: 'stopped[SIGTERM]',
      kind: 'launched', command: 'sleep', args: ['9'], cwd: '/work', startedAt: 1000, endedAt: 1500, restarts: 0,
    });
    assert.equal(state.liveCount, 0);
    assert.equal(state.launches, 1);
  });

  it('a launch\'s start stamp comes later: set once on a live row, never changed, never on an ended one; nothing shown changes', async () => {
    const state = stateOf([launched('p1', { startTime: 0 }), launched('p2', { startTime: 0 }), { type: 'exited', id: 'p2', at: 1100, exitCode: 0 }]);
    await flush();
    const changes: string[][] = [];
    state.onDidChange((ids) => changes.push([...ids]));
    state.apply({ type: 'identified', id: 'p1', startTime: 77 });
    state.apply({ type: 'identified', id: 'p1', startTime: 78 });
    state.apply({ type: 'identified', id: 'p2', startTime: 79 });
    await flush();
    assert.equal(state.get('p1')?.startTime, 77);
    assert.equal(state.get('p2')?.startTime, 0);
    assert.deepEqual(changes, []);
    // The image a re-adopting host receives carries it.
    assert.equal(state.image().rows.find((r) => r.id === 'p1')?.startTime, 77);
  });

  it('nests discovered children, names and counts them, and finds live rows by pid', () => {
    const state = stateOf([
      launched('p1'),
      { type: 'discovered', id: 'p2', parentId: 'p1', name: 'Process-1:1', at: 1100, pid: 200, ppid: 101, startTime: 7, command: 'bash', args: [] },
      { type: 'discovered', id: 'p3', parentId: 'p2', name: 'Process-1:1:1', at: 1200, pid: 201, ppid: 200, startTime: 8, command: 'sleep', args: ['1'] },
    ]);
    assert.deepEqual(state.subtree('p1').map((r) => r.id), ['p2', 'p3']);
    assert.equal(state.get('p1')?.childCounter, 1);
    assert.equal(state.liveByPid(201)?.id, 'p3');
    assert.equal(state.snapshot('p3')?.parentId, 'p2');
    assert.equal(state.allocateId(), 'p4', 'ids go on after the highest seen');
  });

  it('fills in a late exit code but never brings a row back to life', () => {
    const state = stateOf([
      launched('p1'),
      { type: 'pythonStarted', id: 'p2', parentId: 'p1', name: 'worker', at: 1100, pid: 300, ppid: 101, daemon: true, method: 'fork' },
      { type: 'exited', id: 'p2', at: 1300, exitCode: null },
      { type: 'exited', id: 'p2', at: 1400, exitCode: -15 },
      { type: 'wait', id: 'p2', at: 1500, waitingOn: { kind: 'Lock', site: 'x.py:1' } },
    ]);
    const p = state.snapshot('p2');
    assert.equal(p?.alive, false);
    assert.equal(p?.exitCode, -15);
    assert.equal(p?.endedAt, 1300);
    assert.equal(p?.daemon, true);
    assert.equal(p?.kind, 'python');
    assert.equal(p?.waitingOn, undefined);
  });

  it('turns a discovered row into the multiprocessing child the helper reports, under its logical parent', () => {
    const state = stateOf([
      launched('p1'),
      { type: 'discovered', id: 'p2', parentId: 'p1', name: 'Process-1:1', at: 1100, pid: 200, ppid: 101, startTime: 7, command: 'python3', args: [], role: 'forkserver' },
      { type: 'discovered', id: 'p3', parentId: 'p2', name: 'Process-1:1:1', at: 1100, pid: 201, ppid: 200, startTime: 8, command: 'python3', args: [] },
      { type: 'pythonStarted', id: 'p3', parentId: 'p1', name: 'worker', at: 1000, pid: 201, ppid: 101, daemon: false, method: 'forkserver', osParentPid: 200 },
    ]);
    assert.equal(state.get('p3')?.name, 'worker');
    assert.equal(state.get('p3')?.parentId, 'p1');
    assert.equal(state.get('p3')?.osParentPid, 200);
    assert.deepEqual(state.get('p1')?.childIds, ['p2', 'p3']);
    assert.deepEqual(state.get('p2')?.childIds, []);
    assert.equal(state.snapshot('p2')?.role, 'forkserver');
  });

  it('restarts in place: same row and place, restarts counted, last exit code kept, old children into history', () => {
    const state = stateOf([
      launched('p1'),
      launched('p2'),
      { type: 'discovered', id: 'p3', parentId: 'p1', name: 'Process-1:1', at: 1100, pid: 200, ppid: 101, startTime: 7, command: 'sleep', args: [] },
      { type: 'exited', id: 'p3', at: 1150, exitCode: null },
      { type: 'exited', id: 'p1', at: 1200, exitCode: 1 },
      launched('p1', { restart: true, pid: 150, at: 2000 }),
    ]);
    const p = state.snapshot('p1');
    assert.equal(p?.pid, 150);
    assert.equal(p?.alive, true);
    assert.equal(p?.restarts, 1);
    assert.equal(p?.lastExitCode, 1);
    assert.deepEqual(state.roots().map((r) => r.id), ['p1', 'p2']);
    assert.equal(state.get('p3'), undefined);
    assert.deepEqual(state.history().map((r) => r.id), ['p3']);
    assert.deepEqual(state.get('p1')?.runs, [{ from: 1000, to: 1200, label: 1 }]);
    assert.equal(state.launches, 2, 'a restart is not a new launch');
  });

  it('folds ended children into a count, and removes trees into the history', () => {
    const events: ProcessEvent[] = [launched('p1')];
    for (let i = 2; i <= 6; i++) {
      events.push({ type: 'discovered', id: `p${i}`, parentId: 'p1', name: `Process-1:${i - 1}`, at: 1100, pid: 200 + i, ppid: 101, startTime: i, command: 'date', args: [] });
      events.push({ type: 'exited', id: `p${i}`, at: 1200, exitCode: null });
    }
    events.push({ type: 'folded', parentId: 'p1', ids: ['p2', 'p3'] });
    const state = stateOf(events);
    assert.equal(state.get('p1')?.foldedEnded, 2);
    assert.deepEqual(state.get('p1')?.childIds, ['p4', 'p5', 'p6']);
    state.apply({ type: 'removed', ids: ['p1'] });
    assert.equal(state.size, 0);
    assert.deepEqual(state.history().map((r) => r.id).sort(), ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
  });

  it('replaces everything with a snapshot image, so a copy fed the image agrees with the original', () => {
    const original = stateOf([launched('p1'), launched('p2', { daemon: true }), { type: 'ready', id: 'p1', ready: true, at: 1300 }, { type: 'sampled', samples: [{ id: 'p1', ports: [8080] }] }]);
    const copy = stateOf([launched('p9')]);
    copy.apply({ type: 'snapshot', image: original.image() });
    assert.deepEqual(copy.snapshots(), original.snapshots());
    assert.equal(copy.snapshot('p1')?.ready, true);
    assert.deepEqual(copy.snapshot('p1')?.ports, [8080]);
    assert.equal(copy.liveByPid(102)?.id, 'p2');
    assert.equal(copy.get('p9'), undefined);
  });

  it('batches change notices per tick: a new row names its parent, a changed row itself', async () => {
    const state = new ProcessState();
    const batches: string[][] = [];
    state.onDidChange((ids) => batches.push([...ids].sort()));
    state.apply(launched('p1'));
    state.apply({ type: 'discovered', id: 'p2', parentId: 'p1', name: 'Process-1:1', at: 1, pid: 9, ppid: 101, startTime: 1, command: 'x', args: [] });
    await flush();
    state.apply({ type: 'command', id: 'p2', command: 'y', args: [] });
    state.apply({ type: 'sampled', samples: [{ id: 'p2', cpuPercent: 1 }] });
    await flush();
    assert.deepEqual(batches, [['', 'p1'], ['p2']]);
  });

  it('hands every event to its subscribers in order, after applying it', () => {
    const state = new ProcessState();
    const seen: string[] = [];
    state.onDidApply((event) => seen.push(`${event.type}:${state.size}`));
    state.apply(launched('p1'));
    state.apply({ type: 'record', level: 20, process: 'MainProcess', message: 'hello' });
    assert.deepEqual(seen, ['launched:1', 'record:1']);
  });
});
