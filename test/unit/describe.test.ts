import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contextValue, describeState, formatDuration, rowState, stripControl, tooltipLines } from '../../src/core/describe';
import type { ProcessSnapshot } from '../../src/core/types';

const base: ProcessSnapshot = {
  id: 'p1', name: 'Process-1', pid: 4242, ppid: 1, parentId: null, daemon: false, alive: true, exitCode: null,
  status: 'started', kind: 'launched', command: 'python3', args: ['worker.py'], cwd: '/work', startedAt: 0, endedAt: null,
};

describe('how a process reads in the tree', () => {
  it('describes a live daemon, a clean exit and a signal', () => {
    assert.equal(describeState({ ...base, daemon: true }), 'pid 4242 · alive · daemon');
    assert.equal(describeState({ ...base, alive: false, exitCode: 0 }), 'pid 4242 · exitcode 0');
    assert.equal(describeState({ ...base, alive: false, exitCode: -15 }), 'pid 4242 · exitcode -15 (SIGTERM)');
    assert.equal(describeState({ ...base, alive: false, exitCode: null }), 'pid 4242 · exited');
  });
  it('shows the command of a discovered process, without control characters or ANSI escapes', () => {
    const p = { ...base, kind: 'discovered' as const, command: '/bin/sleep', args: ['1\u001b[31m0\u0007'] };
    assert.equal(describeState(p), 'pid 4242 · alive · sleep 10');
  });
  it('strips escapes and control characters from anything a process controls', () => {
    assert.equal(stripControl('evil\u001b[2J\u001b[31mname\r\n\u0000'), 'evilname');
    // eslint-disable-next-line no-control-regex -- looking for control characters
    assert.ok(tooltipLines({ ...base, name: 'a\u001b[1mb' }, {}).every((line) => !/[\u0000-\u001f]/.test(line)));
  });
  it('maps state to the row state and context value that menus match', () => {
    assert.equal(rowState(base), 'alive');
    assert.equal(rowState({ ...base, alive: false, exitCode: 1 }), 'failed');
    assert.equal(rowState({ ...base, alive: false, exitCode: -9 }), 'signalled');
    assert.equal(contextValue({ ...base, daemon: true }), 'process.launched.alive.daemon');
    assert.equal(contextValue({ ...base, kind: 'python', alive: false }), 'process.python.exited');
  });
  it('shows CPU, memory and start method in the tooltip of a live process', () => {
    const lines = tooltipLines(base, { cpuPercent: 12.34, rssBytes: 5 * 1024 * 1024, startMethod: 'spawn' });
    assert.ok(lines.includes('CPU: 12.3 %'), lines.join('\n'));
    assert.ok(lines.includes('Memory: 5.0 MB'));
    assert.ok(lines.includes('Start method: spawn'));
    assert.ok(!tooltipLines({ ...base, alive: false, exitCode: 0 }, { cpuPercent: 1 }).some((l) => l.startsWith('CPU')));
  });

  it('gives a sub-second run time in tenths, and keeps whole seconds above 10 s so rows do not churn', () => {
    const runTime = (ms: number) => tooltipLines({ ...base, alive: false, exitCode: 0, startedAt: 1000, endedAt: 1000 + ms }, {}).find((l) => l.startsWith('Run time: '));
    assert.equal(runTime(400), 'Run time: 0.4 s');
    assert.equal(runTime(40), 'Run time: 0.0 s');
    assert.equal(runTime(1250), 'Run time: 1.2 s');
    assert.equal(runTime(9_990), 'Run time: 9.9 s');
    assert.equal(runTime(10_000), 'Run time: 10 s');
    assert.equal(runTime(12_700), 'Run time: 12 s');
    assert.equal(runTime(125_000), 'Run time: 2 min 5 s');
  });

  it('keeps run times coarse', () => {
    assert.equal(formatDuration(5400), '5 s');
    assert.equal(formatDuration(125_000), '2 min 5 s');
    assert.equal(formatDuration(3_840_000), '1 h 4 min');
  });
});
