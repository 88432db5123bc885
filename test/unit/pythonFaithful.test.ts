// Issue #14: the Python helper only watches. Each test runs a real Python program with and without the helper (or
// through a real supervisor) and holds the helper to SPEC §3: it never changes what a program prints or how it behaves.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pythonEnv, pythonFlagsNote, type InstrumentServer } from '../../src/core/instrument';
import { tooltipLines, usageOf } from '../../src/core/describe';
import type { ReadonlyRow } from '../../src/core/model/row';
import type { ProcessSnapshot } from '../../src/core/types';
import { cleanUpAll, isRunning, makeService, makeSupervisor, waitFor } from './helpers';
import {
  HELPER_DIR, PYTHON, PYTHON_FIXTURES, bareEnv, pythonMissing, recordingServer, runInstrumented, runPython, type PythonRun, type Recorded,
} from './instrumentHarness';

const missing = pythonMissing();

after(cleanUpAll);

/** The same program, plain and under the helper, must agree on everything it prints and how it ends. */
function assertSameRun(withHelper: PythonRun, plain: PythonRun): void {
  assert.deepEqual(
    { code: withHelper.code, signal: withHelper.signal, stdout: withHelper.stdout, stderr: withHelper.stderr },
    { code: plain.code, signal: plain.signal, stdout: plain.stdout, stderr: plain.stderr },
  );
}

describe('the Python helper changes nothing it watches', { skip: missing }, () => {
  let server: InstrumentServer;
  let recorded: Recorded;
  let launches = 0;

  before(() => ({ server, recorded } = recordingServer({ level: 5 })));
  after(() => server.dispose());

  async function instrumented(args: string[], options: { level?: number; baseEnv?: Record<string, string> } = {}) {
    const launchId = `faithful-${++launches}`;
    const run = await runInstrumented(server, launchId, args, options);
    const mine = <T extends { launchId: string }>(events: T[]) => events.filter((e) => e.launchId === launchId);
    return { run, starts: mine(recorded.starts), exits: mine(recorded.exits), logs: mine(recorded.logs) };
  }

  describe('fds it does not own (os.closerange, then the numbers reused)', () => {
    for (const mode of ['sentinel', 'socketpair']) {
      it(`neither writes to nor closes the program's ${mode === 'sentinel' ? 'Process pipes and sentinel' : 'socketpair'}, and reports on`, async () => {
        const plain = await runPython(['fd_reuse.py', mode], bareEnv());
        assert.equal(plain.code, 0, plain.stderr);
        const { run, starts, exits } = await instrumented(['fd_reuse.py', mode], { level: 10 });
        assertSameRun(run, plain);
        assert.deepEqual(starts.map((s) => s.name), ['first', 'second', 'third'], 'it reconnects once its socket is gone');
        const codeOf = new Map(exits.map((e) => [e.pid, e.code]));
        assert.deepEqual(starts.map((s) => `${s.name} ${codeOf.get(s.pid)}`), ['first 0', 'second 0', 'third 0']);
      });
    }
  });

  it("keeps no reference to a started process's target: once the Process goes, its target is collected", async () => {
    const plain = await runPython(['target_ref.py'], bareEnv());
    assert.equal(plain.stdout, 'Target collected\nmake_function collected\n', plain.stderr);
    const { run, starts } = await instrumented(['target_ref.py'], { level: 20 });
    assertSameRun(run, plain);
    assert.equal(starts.length, 2);
  });

  it('raises what it raised without the helper for a Process subclass that sets daemon before Process.__init__', async () => {
    const program = ['-c', [
      'import multiprocessing',
      'class Early(multiprocessing.Process):',
      '    def __init__(self):',
      '        self.daemon = True',
      '        super().__init__()',
      'try:',
      '    Early()',
      'except BaseException as error:',
      '    print(type(error).__name__, error)',
    ].join('\n')];
    const plain = await runPython(program, bareEnv());
    assert.match(plain.stdout, /^AttributeError /);
    assertSameRun((await instrumented(program, { level: 20 })).run, plain);
  });

  it('does not die of SIGPIPE when the listener goes away and the program restored SIG_DFL for it', async () => {
    // A listener that hangs up on every connection as soon as it hears from it.
    const dir = mkdtempSync(join(tmpdir(), 'procscope-hangup-'));
    const path = join(dir, 'socket');
    const listener = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.destroy());
    });
    await new Promise<void>((resolve) => listener.listen(path, resolve));
    try {
      const plain = await runPython(['sigpipe.py'], bareEnv());
      const env = pythonEnv(HELPER_DIR, { PROCSCOPE_SOCKET: path, PROCSCOPE_TOKEN: 'ab'.repeat(16) }, 10, bareEnv());
      const run = await runPython(['sigpipe.py'], env);
      assert.equal(plain.stdout, 'done\n');
      assertSameRun(run, plain);
    } finally {
      listener.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports every exit a SIGCHLD handler observes, without stalling it', async () => {
    const count = 100;
    // Alternate the runs and judge each kind by its fastest: a loaded machine slows single runs, not all of one kind.
    const ms = { plain: [] as number[], handler: [] as number[], noHandler: [] as number[] };
    for (let round = 0; round < 3; round++) {
      const plain = await runPython(['sigchld.py', String(count)], bareEnv());
      assert.equal(plain.stdout, 'exit codes [0]\n', plain.stderr);
      ms.plain.push(plain.ms);
      const { run, starts, exits } = await instrumented(['sigchld.py', String(count)], { level: 20 });
      assertSameRun(run, plain);
      assert.equal(starts.length, count);
      assert.equal(exits.length, count, `${count - exits.length} exits were not reported`);
      assert.deepEqual(new Set(exits.map((e) => e.code)), new Set([0]));
      ms.handler.push(run.ms);
      ms.noHandler.push((await instrumented(['sigchld.py', String(count), 'nohandler'], { level: 20 })).run.ms);
    }
    const [plain, handler, noHandler] = [ms.plain, ms.handler, ms.noHandler].map((list) => Math.min(...list));
    const said = `with the handler ${handler.toFixed(0)} ms, without ${noHandler.toFixed(0)} ms, uninstrumented ${plain.toFixed(0)} ms`;
    // A report the handler makes never waits (it used to wait 1 s for the lock the interrupted send held): the handler
    // costs the instrumented program what it costs the plain one. And the whole stays within a loose bound of the plain.
    assert.ok(handler <= 1.5 * noHandler, said);
    assert.ok(handler <= 3 * plain, said);
  });

  it('forwards every record of a tight util.debug loop, in order, up to the last before each process ends', async () => {
    const count = 5000;
    const { run, starts, logs } = await instrumented(['many_records.py', String(count)], { level: 10 });
    assert.equal(run.code, 0, run.stderr);
    const worker = starts.find((s) => s.name === 'worker');
    const messages = (pid: number | undefined, prefix: string) =>
      logs.filter((r) => r.pid === pid && new RegExp(`^${prefix} \\d+$`).test(r.message)).map((r) => r.message);
    const numbered = (prefix: string) => Array.from({ length: count }, (_, i) => `${prefix} ${i}`);
    assert.deepEqual(messages(run.pid, 'before'), numbered('before'));
    assert.deepEqual(messages(worker?.pid, 'child'), numbered('child'));
    assert.deepEqual(messages(run.pid, 'after'), numbered('after'));
    // Its last records, made just before os._exit() (after its atexit functions from 3.13), are not lost in a batch.
    const workerLines = logs.filter((r) => r.pid === worker?.pid).map((r) => r.message);
    for (const last of ['process exiting with exitcode 0', 'running the remaining "atexit" finalizers']) {
      assert.ok(workerLines.slice(-4).includes(last), `${last} missing from the worker's last records: ${workerLines.slice(-4).join(' | ')}`);
    }
  });

  it('sends a lone record at once, not when its process ends', async () => {
    const launchId = `faithful-${++launches}`;
    const env = pythonEnv(HELPER_DIR, server.register(launchId), 10, bareEnv());
    const program = 'import multiprocessing.util as util, time\nutil.debug("lone")\ntime.sleep(3)\nutil.debug("later")';
    const running = runPython(['-c', program], env);
    const mine = () => recorded.logs.filter((r) => r.launchId === launchId).map((r) => r.message);
    await waitFor(() => mine().includes('lone'), 2500, 'the lone record while its process sleeps');
    assert.deepEqual(mine(), ['lone']);
    const run = await running;
    assert.equal(run.code, 0, run.stderr);
    await server.whenIdle(launchId, 3000);
    server.unregister(launchId);
    assert.deepEqual(mine().slice(0, 3), ['lone', 'later', 'process shutting down']);
  });

  it('leaves no frame of its own in logging\'s "--- Logging error ---" call stack', async () => {
    const plain = await runPython(['logging_error.py'], bareEnv());
    assert.match(plain.stderr, /--- Logging error ---[^]*Call stack:\n[^]*in caller\n[^]*multiprocessing.util[^]*Message: '%d items'/);
    const { run, logs } = await instrumented(['logging_error.py'], { level: 10 });
    assertSameRun(run, plain);
    assert.ok(logs.some((r) => r.message === '%d items'), 'the record it could not format is still forwarded, unformatted');
  });

  it('keeps `import sitecustomize` failing when the program has none', async () => {
    const program = ['-c', 'import sitecustomize'];
    const plain = await runPython(program, bareEnv());
    assert.match(plain.stderr, /ModuleNotFoundError: No module named 'sitecustomize'/);
    const { run } = await instrumented(program);
    assertSameRun(run, plain);
  });

  it('leaves sys.path, sys.meta_path and sys.modules as the program would have them, once multiprocessing is loaded', async () => {
    const program = ['-c', [
      'import sys',
      'before = [type(f).__name__ if not isinstance(f, type) else f.__name__ for f in sys.meta_path]',
      'import multiprocessing.util, multiprocessing.synchronize, multiprocessing.queues',
      'print(sys.path)',
      'print(before)',
      'print([type(f).__name__ if not isinstance(f, type) else f.__name__ for f in sys.meta_path])',
      'print("sitecustomize" in sys.modules)',
    ].join('\n')];
    const plain = await runPython(program, bareEnv());
    const { run } = await instrumented(program);
    // Before multiprocessing is imported the hook is there (first on sys.meta_path); once all it hooks is loaded, gone.
    const [path, before, after, site] = run.stdout.split('\n');
    const [plainPath, plainBefore, plainAfter, plainSite] = plain.stdout.split('\n');
    assert.deepEqual([path, after, site], [plainPath, plainAfter, plainSite]);
    assert.equal(before, plainBefore.replace('[', "['Finder', "));
    assert.equal(run.stderr, plain.stderr);
  });

  it('patches what was imported before it (as a .pth file may), with no hook left behind, and reports once', async () => {
    const program = ['-c', [
      'import sys, multiprocessing.util, multiprocessing.synchronize, multiprocessing.queues',
      'sys.modules["_procscope.boot"].install()',
      'print(any(type(f).__module__.startswith("_procscope") for f in sys.meta_path))',
      'p = multiprocessing.get_context("fork").Process(target=print, args=("child",), name="late")',
      'p.start(); p.join()',
    ].join('\n')];
    const { run, starts } = await instrumented(program);
    assert.equal(run.stdout, 'False\nchild\n', run.stderr);
    assert.deepEqual(starts.map((s) => s.name), ['late']);
  });
});

describe('a launch whose interpreter flags keep the helper out says so', () => {
  it('names -I, -E and -S, alone or combined, and nothing else', () => {
    const cases: Array<[string, string[], string | undefined]> = [
      ['python3', ['-I', 'x.py'], '-I'],
      ['python3', ['-E', 'x.py'], '-E'],
      ['python3', ['-S', 'x.py'], '-S'],
      ['python3', ['-IS', 'x.py'], '-I'],
      ['python3', ['-Es', 'x.py'], '-E'],
      ['python3', ['-sS', 'x.py'], '-S'],
      ['python3', ['-u', '-bS', '-c', 'pass'], '-S'],
      ['/usr/bin/python3.11', ['-OO', '-I', '-m', 'mod'], '-I'],
      ['env', ['PYTHONHASHSEED=0', 'python3', '-E', 'x.py'], '-E'],
      ['uv', ['run', 'python', '-I', 'x.py'], '-I'],
      ['python3', ['x.py', '-I'], undefined], // the program's own argument
      ['python3', ['-c', 'import sys', '-S'], undefined], // -c ends the interpreter's options
      ['python3', ['-W', 'ignore', '-X', 'dev', 'x.py'], undefined],
      ['python3', ['-WI', 'x.py'], undefined], // -W's argument, not -I
      ['python3', ['-Xfrozen_modules=off', '-s', 'x.py'], undefined],
      ['python3', ['--check-hash-based-pycs', 'always', 'x.py'], undefined],
      ['python3', ['-', '-I'], undefined],
      ['node', ['-I', 'x.js'], undefined],
    ];
    for (const [command, args, flag] of cases) {
      const note = pythonFlagsNote(command, args);
      if (flag === undefined) assert.equal(note, undefined, `${command} ${args.join(' ')}`);
      else assert.match(note ?? '', new RegExp(`^python ${flag} `), `${command} ${args.join(' ')}`);
    }
    assert.match(pythonFlagsNote('python3 -IS x.py', [], true) ?? '', /^python -I /, 'a shell command line');
  });

  for (const flags of [['-I'], ['-E'], ['-S'], ['-Es']]) {
    it(`python ${flags.join(' ')}: the row carries the note and an INFO record names the flag`, { skip: missing }, async () => {
      const supervisor = makeSupervisor({}, { logLevel: 20 });
      const records: string[] = [];
      supervisor.state.onDidApply((e) => {
        if (e.type === 'record') records.push(`${e.level} ${e.process} ${e.message}`);
      });
      const started = await supervisor.start({ spec: { command: PYTHON, args: [...flags, 'exit_codes.py', 'fork'], name: 'flagged' }, cwd: PYTHON_FIXTURES });
      await waitFor(() => supervisor.state.get(started.id)?.settled, 20_000, 'the program to end');
      const row = supervisor.state.get(started.id);
      assert.equal(row?.exitCode, 0);
      assert.equal(row?.instrumented, true);
      const flag = flags[0].slice(0, 2);
      assert.match(row?.note ?? '', new RegExp(`^python ${flag} `));
      assert.ok(tooltipLines(supervisor.snapshot(started.id), usageOf(row as ReadonlyRow)).includes(`Note: ${row?.note}`), 'the tooltip says it');
      assert.ok(records.some((r) => r.startsWith(`20 flagged `) && r.includes(` ${flag} `)), records.join('\n'));
      assert.deepEqual([...supervisor.state.all()].filter((r) => r.kind === 'python'), [], 'nothing could be reported');
    });
  }

  it('a plain python launch has no note', { skip: missing }, async () => {
    const supervisor = makeSupervisor();
    const started = await supervisor.start({ spec: { command: PYTHON, args: ['plain.py', 'x'] }, cwd: PYTHON_FIXTURES });
    assert.equal(supervisor.state.get(started.id)?.note, undefined);
    await waitFor(() => supervisor.state.get(started.id)?.settled, 20_000, 'the program to end');
  });
});

describe('every reported start gets an end', { skip: missing }, () => {
  const pollIntervalMs = 200;
  const { service } = makeService({ pollIntervalMs });
  const below = (id: string): ProcessSnapshot[] =>
    service.processes().filter((p) => p.parentId === id).flatMap((p) => [p, ...below(p.id)]);

  for (const [what, programSeconds] of [['while the program runs on', 4], ['after the program has ended', 0]] as const) {
    it(`a grandchild whose parent never joined it ends from the OS poll ${what}`, async () => {
      const grandchildSeconds = 0.6;
      const root = await service.start({ command: PYTHON, args: ['orphan.py', String(grandchildSeconds), String(programSeconds)], cwd: PYTHON_FIXTURES, name: 'orphans' });
      const grandchild = await waitFor(() => below(root.id).find((p) => p.name === 'grandchild'), 10_000, 'the grandchild row');
      assert.equal(grandchild.kind, 'python');
      // Under the child that started it, though the child's reports and its own come over different connections (its
      // start may be read before the child's, and after the child's exit).
      const child = await waitFor(() => below(root.id).find((p) => p.name === 'child'), 10_000, 'the child row');
      await waitFor(() => service.get(grandchild.id)?.parentId === child.id, 5000, 'the grandchild under the child');
      // Nobody reports its exit: the OS poll must end its row, within a poll interval or so of its end.
      await waitFor(() => !isRunning(grandchild.pid as number), 10_000, 'the grandchild to end');
      const gone = Date.now();
      const ended = await waitFor(() => {
        const now = service.get(grandchild.id);
        return now && !now.alive ? now : undefined;
      }, 10_000, 'the grandchild row to end');
      const lag = Date.now() - gone;
      // A poll or two, on a machine that may be loaded: a row left alive would time out above.
      assert.ok(lag <= 10 * pollIntervalMs, `its row ended ${lag} ms after it did (poll interval ${pollIntervalMs} ms)`);
      assert.equal(ended.exitCode, null);
      assert.equal(ended.status, 'stopped');
      if (programSeconds > 0) assert.equal(service.get(root.id)?.alive, true, 'ended by the poll, not by the end of the program');
      await service.join(root.id, 20_000);
      assert.equal(service.get(root.id)?.exitCode, 0);
      assert.deepEqual(below(root.id).filter((p) => p.alive), []);
    });
  }
});
