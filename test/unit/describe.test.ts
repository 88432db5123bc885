import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contextValue, describeState, formatDuration, rowState, stripControl, tooltipLines } from '../../src/core/describe';
import type { ProcessSnapshot } from '../../src/core/types';

const base: ProcessSnapshot = {
  id: 'p1', name: 'Process-1', pid: 4242, ppid: 1, parentId: null, daemon: false, alive: true, exitCode: null,
  status: 'started', kind: 'launched', command: 'python3', args: ['worker.py'], cwd: '/work', startedAt: 0, endedAt: null,
};

describe('how a process reads in the tree', () => {
  it('puts the state first, so a narrow view still shows it: a live daemon, a clean exit and a signal', () => {
    assert.equal(describeState({ ...base, daemon: true }), 'alive · daemon · pid 4242');
    assert.equal(describeState({ ...base, alive: false, exitCode: 0, endedAt: 1200 }), 'exitcode 0 · 1.2 s · pid 4242');
    assert.equal(describeState({ ...base, alive: false, exitCode: -15, endedAt: 2100 }), 'exitcode -15 (SIGTERM) · 2.1 s · pid 4242');
    assert.equal(describeState({ ...base, alive: false, exitCode: null, endedAt: 65_000 }), 'ended · 1 min 5 s · pid 4242');
    assert.equal(describeState({ ...base, alive: false, exitCode: 0, endedAt: 400 }), 'exitcode 0 · 0.4 s · pid 4242');
  });
  it('says what else a row is: restarts, readiness, ports, role, a phase, a wait', () => {
    assert.equal(describeState({ ...base, restarts: 3, ready: true, ports: [8080, 9229] }), 'alive · ready · ↻3 · pid 4242 · :8080 :9229');
    assert.equal(describeState({ ...base, role: 'forkserver', kind: 'python' }), 'alive · forkserver · pid 4242');
    assert.equal(describeState({ ...base, pid: null, alive: false, phase: 'waiting for db (ready)' }), 'waiting for db (ready)');
    assert.equal(describeState({ ...base, pid: null, alive: false }), 'not started');
    assert.equal(describeState({ ...base, waitingOn: { kind: 'Lock', site: 'bank.py:12', holder: 'Process-2' } }), 'alive · waiting on Lock (bank.py:12) held by Process-2 · pid 4242');
    assert.equal(describeState({ ...base, waitingOn: { kind: 'Process.join', site: 'main.py:20', holder: 'worker' } }), 'alive · waiting on worker to exit (join at main.py:20) · pid 4242');
    assert.equal(describeState({ ...base, deadlocked: true, waitingOn: { kind: 'Lock', site: 'x.py:9', holder: 'Process-2' } }), 'alive · deadlocked: waiting on Lock (x.py:9) held by Process-2 · pid 4242');
  });
  it('shows the command of a discovered process, without control characters, ANSI escapes or direction marks', () => {
    const p = { ...base, kind: 'discovered' as const, command: '/bin/sleep', args: ['1\u001b[31m0\u0007'] };
    assert.equal(describeState(p), 'alive · pid 4242 · sleep 10');
    const bidi = { ...base, kind: 'discovered' as const, command: 'evil', args: ['\u202etxt.exe'] };
    assert.equal(describeState(bidi), 'alive · pid 4242 · evil txt.exe');
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
