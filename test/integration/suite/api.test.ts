import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../../../src/api';
import { api, descendantsOf, fixture, isRunning, stopEverything, waitFor, withSetting } from './helpers';

describe('API: processes like multiprocessing.Process', () => {
  let procscope: ProcScopeApi;
  before(async () => {
    procscope = await api();
  });
  after(() => stopEverything(procscope));

  it('is returned from activate() with apiVersion 1', async () => {
    assert.equal(procscope.apiVersion, 1);
    assert.equal(vscode.extensions.getExtension('procscope.procscope')?.exports, procscope);
    for (const method of ['start', 'processes', 'get', 'join', 'terminate', 'kill', 'output', 'logLines', 'onDidChangeProcesses', 'onDidLog']) {
      assert.equal(typeof (procscope as unknown as Record<string, unknown>)[method], 'function', method);
    }
  });

  it('shows a named daemon with its pid, alive and daemon flags', async () => {
    const p = await procscope.start({ command: 'sleep', args: ['60'], name: 'heartbeat', daemon: true });
    assert.equal(p.name, 'heartbeat');
    assert.equal(p.daemon, true);
    assert.equal(p.alive, true);
    assert.equal(p.status, 'started');
    assert.ok(isRunning(p.pid));
    assert.deepEqual(procscope.get(p.id), p);
    assert.ok(procscope.processes().some((q) => q.id === p.id));
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p, 'snapshots are plain data');
    const ended = await procscope.terminate(p.id);
    assert.equal(ended.exitCode, -15);
    assert.equal(ended.status, 'stopped[SIGTERM]');
  });

  it('names unnamed processes Process-N, counting up', async () => {
    const a = await procscope.start({ command: 'true' });
    const b = await procscope.start({ command: 'true' });
    assert.match(a.name, /^Process-\d+$/);
    assert.equal(b.name, `Process-${Number(a.name.slice(8)) + 1}`);
    await procscope.join(a.id);
    await procscope.join(b.id);
  });

  it('reports exit codes 0, 3, -9 and -15', async () => {
    const zero = await procscope.start({ command: fixture('exit-code.sh'), args: ['0'] });
    const three = await procscope.start({ command: fixture('exit-code.sh'), args: ['3'] });
    const nine = await procscope.start({ command: fixture('die-by-signal.sh'), args: ['KILL'] });
    const fifteen = await procscope.start({ command: 'sleep', args: ['60'] });
    assert.equal((await procscope.join(zero.id)).exitCode, 0);
    assert.equal((await procscope.join(three.id)).exitCode, 3);
    assert.equal((await procscope.join(nine.id)).exitCode, -9);
    assert.equal((await procscope.terminate(fifteen.id)).exitCode, -15);
    assert.equal(procscope.get(three.id)?.status, 'stopped[3]');
    assert.equal(procscope.get(nine.id)?.status, 'stopped[SIGKILL]');
  });

  it('join with a timeout returns while the process is still alive', async () => {
    const p = await procscope.start({ command: 'sleep', args: ['60'] });
    const began = Date.now();
    const joined = await procscope.join(p.id, 300);
    assert.ok(Date.now() - began >= 280);
    assert.equal(joined.alive, true);
    assert.equal(joined.exitCode, null);
    await procscope.kill(p.id);
  });

  it('discovers a bash tree, nests it, and terminate leaves no pid behind', async () => {
    const p = await procscope.start({ command: fixture('fork-tree.sh'), args: ['3'], name: 'tree' });
    const below = await waitFor(() => {
      const found = descendantsOf(procscope, p.id).filter((d) => d.alive);
      return found.filter((d) => d.command === 'sleep').length === 3 ? found : undefined;
    }, 5000, 'three subshells with a sleeper each');
    assert.equal(below.length, 6);
    for (const d of below) {
      assert.equal(d.kind, 'discovered');
      assert.match(d.name, /^tree:\d(:1)?$/);
    }
    const pids = [p.pid, ...below.map((d) => d.pid)];
    const ended = await procscope.terminate(p.id);
    assert.equal(ended.alive, false);
    for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
  });

  it('escalates to SIGKILL when the tree ignores SIGTERM, and logs it at WARNING', async () => {
    const restore = await withSetting('killTimeoutMs', 500);
    try {
      const p = await procscope.start({ command: fixture('ignores-sigterm.sh'), name: 'stubborn' });
      await waitFor(() => descendantsOf(procscope, p.id).filter((d) => d.command === 'sleep').length >= 2, 5000, 'the stubborn tree');
      const pids = [p.pid, ...descendantsOf(procscope, p.id).map((d) => d.pid)];
      const ended = await procscope.terminate(p.id);
      assert.equal(ended.exitCode, -9);
      assert.ok(procscope.logLines().some((l) => /\[WARNING\/stubborn\] \d+ process(es)? still alive 500 ms after SIGTERM: sending SIGKILL/.test(l)));
      for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
    } finally {
      await restore();
    }
  });

  it('captures output line-whole; complete once join has returned', async () => {
    const p = await procscope.start({ command: 'node', args: [fixture('no-newline.js')] });
    await procscope.join(p.id);
    assert.equal(procscope.output(p.id), 'hello\nworld\npartial\n');
  });

  it('logs the lifecycle as [LEVEL/ProcessName] records', async () => {
    const p = await procscope.start({ command: fixture('exit-code.sh'), args: ['0'], name: 'lifecycle' });
    await procscope.join(p.id);
    const lines = procscope.logLines();
    assert.ok(lines.some((l) => l.includes(`[INFO/lifecycle] process started with pid ${p.pid}: ${fixture('exit-code.sh')} 0`)), lines.slice(-10).join('\n'));
    assert.ok(lines.some((l) => l.includes('[INFO/lifecycle] process exiting with exitcode 0')));
  });

  it('fires onDidChangeProcesses and onDidLog', async () => {
    let changes = 0;
    const logged: string[] = [];
    const a = procscope.onDidChangeProcesses(() => changes++);
    const b = procscope.onDidLog((line) => logged.push(line));
    try {
      const p = await procscope.start({ command: 'true', name: 'evented' });
      await procscope.join(p.id);
      // Changes are batched (a start and an exit read together are one event): at least one, and the state is there.
      await waitFor(() => changes >= 1, 5000, 'change events');
      assert.equal(procscope.get(p.id)?.exitCode, 0);
      assert.ok(logged.some((l) => l.includes('[INFO/evented] process started')));
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('API: bad input gets a clear error and leaves nothing behind', () => {
  let procscope: ProcScopeApi;
  before(async () => {
    procscope = await api();
  });

  const cases: [string, unknown, RegExp][] = [
    ['an empty command', { command: '' }, /^Expected `command` to be a non-empty string, got "" \(string\)$/],
    ['a command that is not a string', { command: 42 }, /^Expected `command` to be a non-empty string, got 42 \(number\)$/],
    ['arguments that are not strings', { command: 'echo', args: ['a', 1] }, /^Expected `args\[1\]` to be a string, got 1 \(number\)$/],
    ['a missing executable', { command: 'no-such-program-procscope' }, /^Cannot start "no-such-program-procscope": executable not found \(ENOENT\)/],
    ['a cwd that does not exist', { command: 'ls', cwd: '/no/such/dir' }, /^Working directory does not exist: `cwd` is "\/no\/such\/dir" \(string\)$/],
  ];
  for (const [what, spec, message] of cases) {
    it(`rejects ${what}`, async () => {
      const before = procscope.processes().length;
      await assert.rejects(procscope.start(spec as never), (error: Error) => message.test(error.message));
      assert.equal(procscope.processes().length, before);
      assert.ok(procscope.logLines().some((l) => l.startsWith('[ERROR/MainProcess] cannot start process:')));
    });
  }

  it('rejects a negative or non-number timeout', async () => {
    const p = await procscope.start({ command: 'true' });
    await assert.rejects(procscope.join(p.id, -5), /^Error: Expected `timeoutMs` to be a non-negative number of milliseconds, got -5 \(number\)$|non-negative number of milliseconds, got -5 \(number\)/);
    await assert.rejects(procscope.join(p.id, 'soon' as never), /got "soon" \(string\)/);
  });

  it('rejects an unknown id', async () => {
    await assert.rejects(procscope.join('nope'), /No process with id "nope" \(string\)/);
    await assert.rejects(procscope.terminate('nope'), /No process with id "nope"/);
    await assert.rejects(procscope.kill('nope'), /No process with id "nope"/);
    assert.throws(() => procscope.output('nope'), /No process with id "nope"/);
    assert.equal(procscope.get('nope'), undefined);
  });
});
