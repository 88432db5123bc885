import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatRecord } from '../../src/core/levels';
import { pythonEnv, type InstrumentServer } from '../../src/core/instrument';
import { waitFor } from './helpers';
import {
  HELPER_DIR, PYTHON, PYTHON_FIXTURES, bareEnv, line, pythonMissing, rawClient, recordingServer, runInstrumented, runPython, type Recorded,
} from './instrumentHarness';

const missing = pythonMissing();

/** Live processes (on Linux: zombies have no environment) whose environment names `socket` as PROCSCOPE_SOCKET. */
function processesReportingTo(socket: string): number[] {
  if (!existsSync('/proc/self/environ')) return [];
  const wanted = `PROCSCOPE_SOCKET=${socket}`;
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(wanted);
    } catch {
      return false; // gone, or not ours
    }
  });
}

const METHODS = ['fork', 'spawn', 'forkserver'] as const;

describe('the Python helper, through a real InstrumentServer', { skip: missing }, () => {
  let server: InstrumentServer;
  let recorded: Recorded;
  let launches = 0;

  before(() => ({ server, recorded } = recordingServer({ level: 5 })));
  after(() => server.dispose());

  /**
   * Positive evidence that whatever the processes of the runs so far could send has been handled by the server: none of
   * them is alive any more, and the server has read a connection made after they all ended (the kernel hands connections
   * over in order, and connections still before their hello keep whenIdle waiting).
   */
  async function everyReportHandled(launchId: string): Promise<void> {
    // runPython resolved on 'close': every process holding its stdout/stderr (multiprocessing's helper processes too)
    // has ended. On Linux, also nothing that inherited the helper's environment is left.
    await waitFor(() => processesReportingTo(server.path as string).length === 0, 15_000, 'every instrumented process to end');
    const probe = `${launchId}-probe`;
    const env = server.register(probe);
    await rawClient(env.PROCSCOPE_SOCKET, line({ t: 'hello', token: env.PROCSCOPE_TOKEN, pid: 1, v: 1 }) +
      line({ t: 'start', pid: 2, ppid: 1, name: 'probe', daemon: false, method: 'fork', time: 1 }));
    await waitFor(() => recorded.starts.some((s) => s.launchId === probe), 10_000, 'the probe connection to be read');
    server.unregister(probe);
    assert.equal(await server.whenIdle(launchId, 15_000), true, 'connections of the launch, or before their hello, still open');
  }

  /** Runs a fixture instrumented and returns the run with the events of its launch only. */
  async function instrumented(args: string[], options: { level?: number; baseEnv?: Record<string, string>; python?: string } = {}) {
    const launchId = `launch-${++launches}`;
    const run = await runInstrumented(server, launchId, args, options);
    const mine = <T extends { launchId: string }>(events: T[]) => events.filter((e) => e.launchId === launchId);
    return { launchId, run, starts: mine(recorded.starts), exits: mine(recorded.exits), logs: mine(recorded.logs) };
  }

  for (const method of METHODS) {
    it(`reports ${method} children with their names, parent, daemon flag and exit codes`, async () => {
      const { run, starts, exits } = await instrumented(['exit_codes.py', method]);
      assert.equal(run.code, 0, run.stderr);
      const names = ['exit_error', 'exit_ok', 'return_value', 'raises', 'terminated'];
      assert.deepEqual(starts.map((s) => s.name), names);
      for (const s of starts) {
        assert.equal(s.ppid, run.pid);
        assert.equal(s.daemon, false);
        assert.equal(s.method, method);
        assert.ok(Math.abs(s.time - Date.now()) < 60_000);
      }
      const codeOf = new Map(exits.map((e) => [e.pid, e.code]));
      assert.deepEqual(starts.map((s) => `${s.name} ${codeOf.get(s.pid)}`),
        ['exit_error 1', 'exit_ok 0', 'return_value 0', 'raises 1', 'terminated -15']);
      assert.equal(exits.length, 5);
    });

    it(`forwards ${method} records from the program's processes only, not from multiprocessing's helper processes`, async () => {
      const { launchId, run } = await instrumented(['exit_codes.py', method], { level: 5 });
      // multiprocessing's helper processes may outlive the program: a report of theirs after it ended would be refused
      // with a warning. Judge only once every one of them has ended and all they sent has been read.
      await everyReportHandled(launchId);
      const starts = recorded.starts.filter((s) => s.launchId === launchId);
      const logs = recorded.logs.filter((r) => r.launchId === launchId);
      const pids = new Set([run.pid, ...starts.map((s) => s.pid)]);
      assert.ok(logs.length > 0);
      assert.deepEqual(logs.filter((r) => !pids.has(r.pid)), []);
      assert.ok(logs.some((r) => r.pid === run.pid && r.message === 'process shutting down'));
      assert.deepEqual(recorded.warnings, []);
    });

    it(`nests a ${method} grandchild under the child that started it, and flags the daemon`, async () => {
      const { run, starts, exits } = await instrumented(['nested.py', method]);
      assert.equal(run.code, 0, run.stderr);
      const byName = new Map(starts.map((s) => [s.name, s]));
      assert.deepEqual([...byName.keys()].sort(), ['background', 'inner', 'outer']);
      assert.equal(byName.get('outer')?.ppid, run.pid);
      assert.equal(byName.get('background')?.ppid, run.pid);
      assert.equal(byName.get('background')?.daemon, true);
      assert.equal(byName.get('inner')?.ppid, byName.get('outer')?.pid);
      assert.equal(byName.get('inner')?.method, method);
      assert.deepEqual(exits.map((e) => e.code), [0, 0, 0]);
    });
  }

  for (const method of ['fork', 'spawn'] as const) {
    it(`reports ${method} Pool workers as daemons, and their exits`, async () => {
      const { run, starts, exits } = await instrumented(['pool.py', method]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, '[0, 1, 4, 9, 16, 25, 36, 49]\n');
      assert.equal(starts.length, 2);
      const prefix = method === 'fork' ? 'ForkPoolWorker' : 'SpawnPoolWorker';
      for (const s of starts) {
        assert.match(s.name, new RegExp(`^${prefix}-\\d+$`));
        assert.equal(s.daemon, true);
        assert.equal(s.ppid, run.pid);
      }
      assert.deepEqual(exits.map((e) => e.pid).sort(), starts.map((s) => s.pid).sort());
    });
  }

  it('forwards multiprocessing\'s records at DEBUG, named like log_to_stderr names them', async () => {
    const { run, starts, logs } = await instrumented(['fifty.py', 'fork'], { level: 10 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(starts.length, 50);
    const lines = logs.map((r) => formatRecord(r.levelName, r.processName, r.message));
    for (const expected of [
      '[INFO/Process-1] child process calling self.run()',
      '[INFO/Process-1] process exiting with exitcode 0',
      '[INFO/Process-50] child process calling self.run()',
      '[INFO/MainProcess] process shutting down',
      '[DEBUG/MainProcess] running all "atexit" finalizers with priority >= 0',
      '[DEBUG/MainProcess] running the remaining "atexit" finalizers',
    ]) assert.ok(lines.includes(expected), `missing ${expected}`);
    assert.ok(!logs.some((r) => r.level < 10), 'a record below DEBUG was sent');
    const process1 = starts.find((s) => s.name === 'Process-1');
    assert.ok(logs.some((r) => r.processName === 'Process-1' && r.pid === process1?.pid));
  });

  it('sends the same records log_to_stderr() prints, and changes nothing it prints', async () => {
    const plain = await runPython(['logging_program.py'], bareEnv());
    const { run, logs } = await instrumented(['logging_program.py'], { level: 10 });
    assert.equal(run.stdout, plain.stdout);
    assert.equal(run.stderr, plain.stderr);
    assert.equal(run.code, plain.code);
    const printed = run.stderr.trimEnd().split('\n').filter((l) => l.startsWith('['));
    const sent = logs.map((r) => formatRecord(r.levelName, r.processName, r.message));
    assert.deepEqual([...sent].sort(), [...printed].sort());
  });

  it('keeps the caller that logging records for each record', async () => {
    const plain = await runPython(['logging_program.py', 'caller'], bareEnv());
    const { run } = await instrumented(['logging_program.py', 'caller'], { level: 5 });
    assert.match(plain.stderr, /\[INFO\/MainProcess\] util\._exit_function:\d+ process shutting down|\[INFO\/MainProcess\] util\.info:\d+ process shutting down/);
    assert.equal(run.stderr, plain.stderr);
  });

  it('sends starts and exits but no records at NOTSET', async () => {
    const { starts, exits, logs } = await instrumented(['exit_codes.py', 'fork'], { level: 0 });
    assert.equal(starts.length, 5);
    assert.equal(exits.length, 5);
    assert.equal(logs.length, 0);
  });

  it('stays silent when interpreter shutdown has already wiped its module', async () => {
    const { run } = await instrumented(['teardown.py'], { level: 5 });
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, 'helper loaded: True\nfinalizer ran\nexit codes 0 0\n');
    assert.equal(run.code, 0);
  });

  it('costs a plain script no imports: multiprocessing, socket and the agent stay unloaded', async () => {
    const { run } = await instrumented(['-c', 'import sys; print(sorted(m for m in ("_procscope.agent", "multiprocessing", "socket", "json") if m in sys.modules))']);
    assert.equal(run.stdout, '[]\n');
  });

  it('caches the bytecode of every module of its own under PYTHONDONTWRITEBYTECODE (compiling them costs each start ms)', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'procscope-helper-'));
    try {
      cpSync(HELPER_DIR, copy, { recursive: true, filter: (source) => !source.includes('__pycache__') });
      const launchId = `launch-${++launches}`;
      const env = pythonEnv(copy, server.register(launchId), 20, bareEnv({ PYTHONDONTWRITEBYTECODE: '1' }));
      const run = await runPython(['-c', 'import multiprocessing.synchronize, multiprocessing.queues; print("ok")'], env);
      server.unregister(launchId);
      assert.equal(run.stdout, 'ok\n', run.stderr);
      const cached = (dir: string) => readdirSync(join(copy, dir, '__pycache__')).map((f) => f.split('.')[0]).sort();
      const modules = readdirSync(join(copy, '_procscope')).filter((f) => f.endsWith('.py')).map((f) => f.slice(0, -3)).sort();
      assert.deepEqual(cached('_procscope'), modules);
      assert.deepEqual(cached('.'), ['sitecustomize']);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('runs a sitecustomize that was already on PYTHONPATH, as `sitecustomize`', async () => {
    const chained = resolve(PYTHON_FIXTURES, 'chained');
    const alone = await runPython(['exit_codes.py', 'fork'], bareEnv({ PYTHONPATH: chained }));
    const { run, starts } = await instrumented(['exit_codes.py', 'fork'], { baseEnv: bareEnv({ PYTHONPATH: chained }) });
    assert.match(alone.stdout, /^chained sitecustomize: sitecustomize True\n/);
    assert.equal(run.stdout, alone.stdout);
    assert.equal(starts.length, 5);
    const probe = await instrumented(['-c', 'import sitecustomize; print(sitecustomize.CHAINED, sitecustomize.__file__)'],
      { baseEnv: bareEnv({ PYTHONPATH: chained }) });
    assert.equal(probe.run.stdout.split('\n')[1], `True ${join(chained, 'sitecustomize.py')}`);
  });

  it('lets the shadowed sitecustomize fail as it would have failed alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'procscope-site-'));
    try {
      writeFileSync(join(dir, 'sitecustomize.py'), 'raise ValueError("broken on purpose")\n');
      const alone = await runPython(['plain.py'], bareEnv({ PYTHONPATH: dir }));
      const { run } = await instrumented(['plain.py'], { baseEnv: bareEnv({ PYTHONPATH: dir }) });
      assert.match(alone.stderr, /broken on purpose/);
      assert.equal(run.stderr, alone.stderr);
      assert.equal(run.stdout, alone.stdout);
      assert.equal(run.code, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Python helper when nobody listens', { skip: missing }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'procscope-nobody-'));
  const notASocket = join(dir, 'regular-file');
  writeFileSync(notASocket, '');
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string, string]> = [['a socket that does not exist', join(dir, 'gone')], ['a path that is not a socket', notASocket]];
  for (const [what, socketPath] of cases) {
    for (const args of [['plain.py', 'a b'], ['exit_codes.py', 'fork'], ['exit_codes.py', 'spawn'], ['logging_program.py']]) {
      it(`changes nothing for ${args.join(' ')} with ${what}`, async () => {
        const env = pythonEnv(HELPER_DIR, { PROCSCOPE_SOCKET: socketPath, PROCSCOPE_TOKEN: 'ab'.repeat(16) }, 5, bareEnv());
        const [without, withHelper] = await Promise.all([runPython(args, bareEnv()), runPython(args, env)]);
        assert.equal(withHelper.code, without.code);
        assert.equal(withHelper.stdout, without.stdout);
        assert.equal(withHelper.stderr, without.stderr);
      });
    }
  }
});

// Every other CPython 3.8+ on PATH (python3.8 … python3.14), or listed in PROCSCOPE_TEST_PYTHONS (':'-separated):
// the exit codes, the records, and logging's caller kept.
const OTHER_PYTHONS = (process.env.PROCSCOPE_TEST_PYTHONS?.split(':').filter(Boolean) ??
  ['python3.8', 'python3.9', 'python3.10', 'python3.11', 'python3.12', 'python3.13', 'python3.14'])
  .filter((python) => !pythonMissing(python))
  .filter((python) => executable(python) !== executable(PYTHON));

/** The interpreter a command really runs (a pyenv shim or a symlink resolved), or undefined if it does not start. */
function executable(python: string): string | undefined {
  const probe = spawnSync(python, ['-c', 'import os, sys; print(os.path.realpath(sys.executable))'], { encoding: 'utf8', timeout: 10_000 });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

describe('the Python helper on every interpreter found', { skip: missing || (OTHER_PYTHONS.length === 0 && 'no other interpreters') }, () => {
  let server: InstrumentServer;
  let recorded: Recorded;
  before(() => ({ server, recorded } = recordingServer({ level: 10 })));
  after(() => server.dispose());

  for (const python of OTHER_PYTHONS) {
    it(`${python}: exit codes, records, an unchanged log_to_stderr(), and a quiet teardown`, async () => {
      const run = await runInstrumented(server, python, ['exit_codes.py', 'forkserver'], { python });
      assert.equal(run.code, 0, run.stderr);
      const starts = recorded.starts.filter((s) => s.launchId === python);
      const codeOf = new Map(recorded.exits.filter((e) => e.launchId === python).map((e) => [e.pid, e.code]));
      assert.deepEqual(starts.map((s) => `${s.name} ${codeOf.get(s.pid)}`),
        ['exit_error 1', 'exit_ok 0', 'return_value 0', 'raises 1', 'terminated -15']);
      assert.ok(recorded.logs.some((r) => r.launchId === python && r.message === 'process shutting down' && r.processName === 'MainProcess'));
      const plain = await runPython(['logging_program.py', 'caller'], bareEnv(), { python });
      const withHelper = await runInstrumented(server, `${python}-log`, ['logging_program.py', 'caller'], { python });
      assert.equal(withHelper.stderr, plain.stderr);
      assert.equal(withHelper.stdout, plain.stdout);
      const teardown = await runInstrumented(server, `${python}-teardown`, ['teardown.py'], { python, level: 5 });
      assert.equal(teardown.stderr, '');
      assert.equal(teardown.stdout, 'helper loaded: True\nfinalizer ran\nexit codes 0 0\n');
    });
  }
});


// Interpreters the helper does not instrument (2.7, 3.6, 3.7), from PROCSCOPE_TEST_OLD_PYTHONS or PATH: it must still
// run the sitecustomize it shadows and change nothing else.
const OLD_PYTHONS = (process.env.PROCSCOPE_TEST_OLD_PYTHONS?.split(':').filter(Boolean) ?? ['python2.7', 'python3.6', 'python3.7'])
  .filter((python) => spawnSync(python, ['-c', 'pass'], { timeout: 10_000 }).status === 0);

describe('the Python helper on older interpreters', { skip: missing || (OLD_PYTHONS.length === 0 && 'none found') }, () => {
  const program = ['-c', 'import sys; sys.stdout.write("out\\n"); sys.stderr.write("err\\n"); sys.exit(3)'];
  for (const python of OLD_PYTHONS) {
    it(`${python}: changes nothing and still chains`, async () => {
      const chained = resolve(PYTHON_FIXTURES, 'chained');
      const socket = { PROCSCOPE_SOCKET: HELPER_DIR, PROCSCOPE_TOKEN: 'ab' }; // exists, so the hook would install
      for (const base of [bareEnv(), bareEnv({ PYTHONPATH: chained })]) {
        const without = await runPython(program, base, { python });
        const withHelper = await runPython(program, pythonEnv(HELPER_DIR, socket, 10, base), { python });
        assert.deepEqual([withHelper.code, withHelper.stdout, withHelper.stderr], [without.code, without.stdout, without.stderr]);
      }
    });
  }
});
