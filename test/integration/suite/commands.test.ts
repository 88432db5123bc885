import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { readManifest } from '../../shared/manifest.mjs';
import * as vscode from 'vscode';
import type { ProcScopeApi } from '../../../src/api';
import type { ProcessSnapshot } from '../../../src/core/types';
import { api, fixture, isRunning, ROOT, stopEverything, waitFor, withSetting } from './helpers';

const run = <T>(command: string, ...args: unknown[]) => vscode.commands.executeCommand<T>(command, ...args);

describe('Commands, called with arguments and no prompts', () => {
  let procscope: ProcScopeApi;
  before(async () => {
    procscope = await api();
  });
  after(() => stopEverything(procscope));

  it('are all registered: every command the manifest contributes, the SPEC\'s among them', async () => {
    const all = await vscode.commands.getCommands(true);
    const contributed = (readManifest(ROOT) as { contributes: { commands: { command: string }[] } }).contributes.commands.map((c) => c.command);
    for (const id of ['start', 'runFile', 'terminate', 'kill', 'join', 'restart', 'showOutput', 'stopAll', 'clearExited', 'setLogLevel', 'showTimeline']) {
      assert.ok(contributed.includes(`procscope.${id}`), `procscope.${id} is not contributed`);
    }
    for (const id of contributed) assert.ok(all.includes(id), `${id} is contributed but not registered`);
  });

  it('procscope.start takes a ProcessSpec and returns a snapshot', async () => {
    const p = await run<ProcessSnapshot>('procscope.start', { command: 'sleep', args: ['60'], name: 'by-command' });
    assert.equal(p.name, 'by-command');
    assert.equal(p.alive, true);
    assert.deepEqual(procscope.get(p.id), p);
    const joined = await run<ProcessSnapshot>('procscope.join', p.id, 100);
    assert.equal(joined.alive, true);
    const ended = await run<ProcessSnapshot>('procscope.terminate', p.id);
    assert.equal(ended.exitCode, -15);
  });

  it('procscope.start rejects bad input with the same message as the API', async () => {
    await assert.rejects(Promise.resolve(run('procscope.start', { command: '' })), /Expected `command` to be a non-empty string, got "" \(string\)/);
  });

  it('procscope.kill and procscope.join take an id', async () => {
    const p = await run<ProcessSnapshot>('procscope.start', { command: 'sleep', args: ['60'] });
    const killed = await run<ProcessSnapshot>('procscope.kill', p.id);
    assert.equal(killed.exitCode, -9);
    const joined = await run<ProcessSnapshot>('procscope.join', p.id);
    assert.equal(joined.status, 'stopped[SIGKILL]');
    await assert.rejects(Promise.resolve(run('procscope.join', p.id, -1)), /non-negative number of milliseconds, got -1 \(number\)/);
    await assert.rejects(Promise.resolve(run('procscope.terminate', 'no-such-id')), /No process with id "no-such-id"/);
  });

  it('procscope.restart starts the same spec again in place: same id, name and row, restarts counted', async () => {
    const p = await run<ProcessSnapshot>('procscope.start', { command: 'sleep', args: ['60'], name: 'again' });
    const restarted = await run<ProcessSnapshot>('procscope.restart', p.id);
    assert.equal(restarted.id, p.id);
    assert.equal(restarted.name, 'again');
    assert.notEqual(restarted.pid, p.pid);
    assert.equal(restarted.alive, true);
    assert.equal(restarted.restarts, 1);
    assert.equal(restarted.lastExitCode, -15);
    assert.ok(!isRunning(p.pid), 'the old process was ended');
    assert.equal(procscope.processes().filter((s) => s.name === 'again').length, 1, 'one row');
    await run('procscope.kill', restarted.id);
  });

  it('procscope.showOutput opens the output with stdout and stderr', async () => {
    const p = await run<ProcessSnapshot>('procscope.start', { command: fixture('exit-code.sh'), args: ['0'], name: 'shown' });
    await procscope.join(p.id);
    await run('procscope.showOutput', p.id);
    const editor = await waitFor(() => vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'procscope-output' && e.document.uri.query === p.id), 5000, 'the output editor');
    const text = editor.document.getText();
    assert.match(text, /to stdout/);
    assert.match(text, /to stderr/);
    assert.match(text, /\[shown stopped\]\n/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('procscope.stopAll terminates daemons first, then the rest', async () => {
    const d = await run<ProcessSnapshot>('procscope.start', { command: 'sleep', args: ['60'], name: 'stop-daemon', daemon: true });
    const n = await run<ProcessSnapshot>('procscope.start', { command: 'sleep', args: ['60'], name: 'stop-worker' });
    const stopped = await run<ProcessSnapshot[]>('procscope.stopAll');
    assert.ok(stopped.some((s) => s.id === d.id && s.exitCode === -15));
    assert.ok(stopped.some((s) => s.id === n.id && s.exitCode === -15));
    assert.ok(procscope.logLines().some((l) => l.includes('[INFO/MainProcess] calling terminate() for daemon stop-daemon')));
    assert.ok(!isRunning(d.pid) && !isRunning(n.pid));
  });

  it('procscope.clearExited removes finished processes only', async () => {
    const done = await run<ProcessSnapshot>('procscope.start', { command: 'true' });
    const running = await run<ProcessSnapshot>('procscope.start', { command: 'sleep', args: ['60'] });
    await procscope.join(done.id);
    const removed = await run<string[]>('procscope.clearExited');
    assert.ok(removed.includes(done.id));
    assert.equal(procscope.get(done.id), undefined);
    assert.equal(procscope.get(running.id)?.alive, true);
    await procscope.kill(running.id);
  });

  it('procscope.runFile runs JavaScript with node and shell scripts with bash, from their folder', async () => {
    const js = await run<ProcessSnapshot>('procscope.runFile', vscode.Uri.file(fixture('no-newline.js')));
    assert.equal(js.command, 'node');
    assert.equal(js.name, 'no-newline.js');
    assert.equal(js.cwd, path.dirname(fixture('no-newline.js')));
    await procscope.join(js.id);
    assert.equal(procscope.output(js.id), 'hello\nworld\npartial\n');
    const sh = await run<ProcessSnapshot>('procscope.runFile', vscode.Uri.file(fixture('exit-code.sh')));
    assert.equal(sh.command, 'bash');
    assert.equal((await procscope.join(sh.id)).exitCode, 0);
    await assert.rejects(Promise.resolve(run('procscope.runFile', vscode.Uri.file(path.join(ROOT, 'README.md')))), /Don't know how to run "README\.md"/);
  });

  it('procscope.startAll starts the workspace\'s procscope.processes, daemons flagged', async () => {
    const started = await run<ProcessSnapshot[]>('procscope.startAll');
    const byName = new Map(started.map((p) => [p.name, p]));
    assert.equal(byName.get('heartbeat')?.daemon, true);
    assert.equal(byName.get('server')?.daemon, false);
    assert.ok([...byName.values()].every((p) => p.alive));
    await run('procscope.stopAll');
  });

  it('procscope.setLogLevel takes a level name and rejects unknown ones', async () => {
    try {
      assert.equal(await run('procscope.setLogLevel', 'DEBUG'), 'DEBUG');
      const p = await procscope.start({ command: 'true', name: 'debugged' });
      await procscope.join(p.id, 5000);
      assert.ok(procscope.logLines().some((l) => l.includes('[DEBUG/MainProcess] joining debugged with timeout 5.0')));
      await run('procscope.setLogLevel', 'NOTSET');
      const before = procscope.logLines().length;
      const q = await procscope.start({ command: 'true', name: 'silent' });
      await procscope.join(q.id);
      assert.equal(procscope.logLines().length, before, 'NOTSET logs nothing');
      await assert.rejects(Promise.resolve(run('procscope.setLogLevel', 'LOUD')), /Unknown log level "LOUD" \(string\)/);
      assert.equal(vscode.workspace.getConfiguration('procscope').get('logLevel'), 'NOTSET');
    } finally {
      await run('procscope.setLogLevel', 'INFO');
    }
  });
});

describe('Settings of the wrong type', () => {
  let procscope: ProcScopeApi;
  before(async () => {
    procscope = await api();
  });
  after(() => stopEverything(procscope));

  it('are told at WARNING, naming the setting and the value, and their defaults are used; fixed, they take effect', async () => {
    const restore = [
      await withSetting('killTimeoutMs', 'soon'),
      await withSetting('echoOutput', 'yes'),
      await withSetting('logLevel', 'LOUD'),
    ];
    try {
      const warnings = [
        '[WARNING/MainProcess] procscope.killTimeoutMs: expected a number of 0 or more, got "soon" (string); using 3000',
        '[WARNING/MainProcess] procscope.echoOutput: expected true or false, got "yes" (string); using false',
        '[WARNING/MainProcess] procscope.logLevel: expected one of NOTSET, SUBDEBUG, DEBUG, INFO, SUBWARNING, WARNING, ERROR, CRITICAL, got "LOUD" (string); using INFO',
      ];
      await waitFor(() => warnings.every((w) => procscope.logLines().includes(w)), 10_000, `the warnings, in ${procscope.logLines().slice(-5).join(' / ')}`);
      // The extension works on with the defaults: a stubborn tree still gets SIGKILL after the default 3000 ms.
      const p = await procscope.start({ command: fixture('ignores-sigterm.sh'), name: 'stubborn-default' });
      await waitFor(() => procscope.processes().some((s) => s.parentId === p.id && s.alive), 10_000, 'the stubborn tree');
      const ended = await procscope.terminate(p.id);
      assert.equal(ended.exitCode, -9);
      assert.ok(procscope.logLines().some((l) => /^\[WARNING\/stubborn-default\] \d+ process(es)? still alive 3000 ms after SIGTERM: sending SIGKILL$/.test(l)));
    } finally {
      for (const undo of restore) await undo();
    }
    const fixed = await withSetting('killTimeoutMs', 200);
    try {
      const p = await procscope.start({ command: fixture('ignores-sigterm.sh'), name: 'stubborn-fixed' });
      await waitFor(() => procscope.processes().some((s) => s.parentId === p.id && s.alive), 10_000, 'the stubborn tree');
      await procscope.terminate(p.id);
      assert.ok(procscope.logLines().some((l) => /^\[WARNING\/stubborn-fixed\] \d+ process(es)? still alive 200 ms after SIGTERM: sending SIGKILL$/.test(l)));
    } finally {
      await fixed();
    }
  });
});
