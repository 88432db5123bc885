import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ProcessSnapshot } from '../../src/core/types';
import { cleanUpAll, fixture, isRunning, makeTable, waitFor } from './helpers';

const { table, logger } = makeTable({ killTimeoutMs: 500 });
after(cleanUpAll);

/** Every process below `id` in the table. */
function descendantsOf(id: string): ProcessSnapshot[] {
  const below = table.processes().filter((s) => s.parentId === id);
  return below.flatMap((s) => [s, ...descendantsOf(s.id)]);
}

describe('ProcessTable: starting and naming', () => {
  it('names processes Process-N, counting every start, and keeps a custom name', async () => {
    const first = await table.start({ command: 'true' });
    const named = await table.start({ command: 'true', name: 'my_service' });
    const third = await table.start({ command: 'true' });
    const n = Number(first.name.replace('Process-', ''));
    assert.match(first.name, /^Process-\d+$/);
    assert.equal(named.name, 'my_service');
    assert.equal(third.name, `Process-${n + 2}`);
    await Promise.all([first, named, third].map((p) => table.join(p.id)));
  });

  it('reports pid, daemon flag and liveness while running', async () => {
    const p = await table.start({ command: 'sleep', args: ['30'], name: 'heartbeat', daemon: true });
    assert.equal(typeof p.pid, 'number');
    assert.equal(p.alive, true);
    assert.equal(p.daemon, true);
    assert.equal(p.exitCode, null);
    assert.equal(p.status, 'started');
    assert.equal(p.kind, 'launched');
    assert.equal(p.ppid, process.pid);
    assert.ok(isRunning(p.pid as number));
    const ended = await table.terminate(p.id);
    assert.equal(ended.alive, false);
    assert.equal(ended.exitCode, -15);
    assert.equal(ended.status, 'stopped[SIGTERM]');
  });

  it('logs the start with pid and command line, and the exit code', async () => {
    const p = await table.start({ command: 'bash', args: [fixture('exit-code.sh'), '0'], name: 'logged' });
    await table.join(p.id);
    const lines = logger.lines();
    assert.ok(lines.includes(`[INFO/logged] process started with pid ${p.pid}: bash ${fixture('exit-code.sh')} 0`), lines.join('\n'));
    assert.ok(lines.includes('[INFO/logged] process exiting with exitcode 0'));
  });
});

describe('ProcessTable: exit codes', () => {
  it('gives 0 and 3 for normal exits', async () => {
    const ok = await table.start({ command: fixture('exit-code.sh'), args: ['0'] });
    const three = await table.start({ command: fixture('exit-code.sh'), args: ['3'] });
    assert.equal((await table.join(ok.id)).exitCode, 0);
    const joined = await table.join(three.id);
    assert.equal(joined.exitCode, 3);
    assert.equal(joined.status, 'stopped[3]');
  });

  it('gives minus the signal number when the process dies of a signal', async () => {
    const killed = await table.start({ command: fixture('die-by-signal.sh'), args: ['KILL'] });
    const termed = await table.start({ command: fixture('die-by-signal.sh'), args: ['TERM'] });
    assert.equal((await table.join(killed.id)).exitCode, -9);
    const t = await table.join(termed.id);
    assert.equal(t.exitCode, -15);
    assert.equal(t.status, 'stopped[SIGTERM]');
  });
});

describe('ProcessTable: join', () => {
  it('returns after the timeout with the process still alive, and is not an error', async () => {
    const p = await table.start({ command: 'sleep', args: ['30'] });
    const began = Date.now();
    const joined = await table.join(p.id, 200);
    assert.ok(Date.now() - began >= 190);
    assert.equal(joined.alive, true);
    assert.equal(joined.exitCode, null);
    await table.kill(p.id);
  });

  it('returns at once for a finished process, with its whole output', async () => {
    const p = await table.start({ command: 'node', args: [fixture('no-newline.js')] });
    const joined = await table.join(p.id);
    assert.equal(joined.exitCode, 0);
    assert.equal(table.output(p.id), 'hello\nworld\npartial\n');
    const again = await table.join(p.id, 0);
    assert.deepEqual(again, joined);
  });

  it('rejects a bad timeout and an unknown id, repeating the value', async () => {
    const p = await table.start({ command: 'true' });
    await assert.rejects(table.join(p.id, -1), { message: 'Expected `timeoutMs` to be a non-negative number of milliseconds, got -1 (number)' });
    await assert.rejects(table.join(p.id, 'soon' as unknown as number), /got "soon" \(string\)/);
    await assert.rejects(table.join('p-nope'), { message: 'No process with id "p-nope" (string)' });
    await assert.rejects(table.terminate('p-nope'), /No process with id "p-nope"/);
    assert.throws(() => table.output('p-nope'), /No process with id/);
  });
});

describe('ProcessTable: output', () => {
  it('captures stdout and stderr line-whole and tells them apart', async () => {
    const p = await table.start({ command: fixture('exit-code.sh'), args: ['0'] });
    await table.join(p.id);
    assert.equal(table.output(p.id).split('\n').sort().join('\n'), '\nto stderr\nto stdout');
    const streams = [...(table.entry(p.id)?.launch?.output.lines() ?? [])].map((s) => [s.stream, s.data.toString()]);
    assert.deepEqual(streams.sort(), [[0, 'to stdout\n'], [1, 'to stderr\n']]);
  });

  it('keeps a flood within the buffer cap and ends on the last line', async () => {
    const small = makeTable({ outputBufferBytes: 64 * 1024 });
    const p = await small.table.start({ command: 'node', args: [fixture('flood.js'), '200000'] });
    await small.table.join(p.id);
    const entry = small.table.entry(p.id);
    assert.ok((entry?.launch?.output.size ?? Infinity) <= 64 * 1024);
    assert.ok((entry?.launch?.output.totalBytes ?? 0) > 5_000_000);
    const text = small.table.output(p.id);
    assert.match(text, /out 199999 x+\n$/);
    for (const line of text.split('\n').slice(0, -1)) assert.match(line, /^(out \d+ x*|err \d+)$/);
    small.table.dispose();
  });

  it('sets PYTHONUNBUFFERED unless the spec says otherwise, and merges env over the inherited one', async () => {
    const a = await table.start({ command: 'sh', args: ['-c', 'echo "$PYTHONUNBUFFERED $HOME $EXTRA"'], env: { EXTRA: 'x' } });
    const b = await table.start({ command: 'sh', args: ['-c', 'echo "$PYTHONUNBUFFERED"'], env: { PYTHONUNBUFFERED: '' } });
    await table.join(a.id);
    await table.join(b.id);
    assert.equal(table.output(a.id), `1 ${process.env.HOME} x\n`);
    assert.equal(table.output(b.id), '\n');
  });

  it('runs no shell unless asked', async () => {
    const plain = await table.start({ command: 'echo', args: ['$HOME', '&&', 'ls'] });
    const shell = await table.start({ command: 'echo $((6*7))', shell: true });
    await table.join(plain.id);
    await table.join(shell.id);
    assert.equal(table.output(plain.id), '$HOME && ls\n');
    assert.equal(table.output(shell.id), '42\n');
  });
});

describe('ProcessTable: bad input', () => {
  it('rejects a missing executable, logs it at ERROR, and leaves nothing behind', async () => {
    const before = table.processes().length;
    await assert.rejects(table.start({ command: 'no-such-command-procscope' }), {
      message: /^Cannot start "no-such-command-procscope": executable not found \(ENOENT\)/,
    });
    assert.equal(table.processes().length, before);
    assert.ok(logger.lines().some((l) => l.startsWith('[ERROR/MainProcess] cannot start process: Cannot start "no-such-command-procscope"')));
  });

  it('rejects a cwd that does not exist', async () => {
    await assert.rejects(table.start({ command: 'ls', cwd: '/definitely/not/here' }), /Working directory does not exist: `cwd` is "\/definitely\/not\/here"/);
  });

  it('takes a relative cwd from the default folder', async () => {
    const { table: t } = makeTable({}, { defaultCwd: () => fixture('.') });
    const p = await t.start({ command: 'pwd', cwd: 'python' });
    await t.join(p.id);
    assert.equal(t.output(p.id), `${fixture('python')}\n`);
    assert.equal(p.cwd, fixture('python'));
  });

  it('rejects an empty command', async () => {
    await assert.rejects(table.start({ command: '' }), /Expected `command` to be a non-empty string, got "" \(string\)/);
  });
});

describe('ProcessTable: process trees', () => {
  it('discovers descendants, names them as multiprocessing would, and ends them all on terminate', async () => {
    const p = await table.start({ command: fixture('fork-tree.sh'), args: ['3'], name: 'tree' });
    const children = await waitFor(() => {
      const found = descendantsOf(p.id).filter((s) => s.alive);
      return found.length >= 6 ? found : undefined;
    }, 5000, 'six discovered descendants');
    const direct = children.filter((c) => c.parentId === p.id);
    assert.equal(direct.length, 3);
    assert.deepEqual(direct.map((c) => c.name).sort(), ['tree:1', 'tree:2', 'tree:3']);
    for (const c of children.filter((c) => c.parentId !== p.id)) {
      const parent = table.get(c.parentId as string);
      assert.equal(c.name, `${parent?.name}:1`);
      assert.equal(c.command, 'sleep');
      assert.equal(c.ppid, parent?.pid);
    }
    const pids = [p.pid as number, ...children.map((c) => c.pid as number)];
    const ended = await table.terminate(p.id);
    assert.equal(ended.exitCode, -15);
    for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
    for (const c of children) assert.equal(table.get(c.id)?.alive, false);
  });

  it('escalates to SIGKILL, logged at WARNING, when the tree ignores SIGTERM', async () => {
    const p = await table.start({ command: fixture('ignores-sigterm.sh'), name: 'stubborn' });
    await waitFor(() => descendantsOf(p.id).filter((s) => s.alive && s.command === 'sleep').length >= 2, 5000, 'the stubborn tree');
    const pids = [p, ...descendantsOf(p.id)].map((s) => s.pid as number);
    const began = Date.now();
    const ended = await table.terminate(p.id);
    assert.ok(Date.now() - began >= 450, 'waited the kill timeout before SIGKILL');
    assert.equal(ended.exitCode, -9);
    assert.ok(logger.lines().some((l) => /^\[WARNING\/stubborn\] \d+ process(es)? still alive 500 ms after SIGTERM: sending SIGKILL$/.test(l)));
    for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
  });

  it('kill ends the tree with SIGKILL', async () => {
    const p = await table.start({ command: fixture('fork-tree.sh'), args: ['2'] });
    await waitFor(() => descendantsOf(p.id).filter((s) => s.alive && s.command === 'sleep').length >= 2, 5000, 'sleepers');
    const pids = [p, ...descendantsOf(p.id)].map((s) => s.pid as number);
    const ended = await table.kill(p.id);
    assert.equal(ended.exitCode, -9);
    for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
  });

  it('terminating a finished process is a no-op', async () => {
    const p = await table.start({ command: 'true' });
    const joined = await table.join(p.id);
    assert.deepEqual(await table.terminate(p.id), joined);
  });

  it('ends orphans that outlived their parent', async () => {
    const p = await table.start({ command: 'bash', args: ['-c', 'sleep 300 & sleep 0.3; exit 0'] });
    const orphan = await waitFor(() => descendantsOf(p.id).find((s) => s.alive && s.command === 'sleep' && s.args[0] === '300'), 5000, 'the sleeper');
    await table.join(p.id);
    assert.equal(table.get(p.id)?.exitCode, 0);
    assert.ok(isRunning(orphan.pid as number));
    await table.terminate(p.id);
    assert.ok(!isRunning(orphan.pid as number), 'orphan still running');
  });
});

describe('ProcessTable: rows of ended descendants', () => {
  it('drops the row of a discovered child a while after it ends, whether or not its parent lives on', async () => {
    const { table: t } = makeTable({ transientRowMs: 300 });
    const p = await t.start({ command: 'bash', args: ['-c', 'sleep 0.3; sleep 30 & wait'] });
    const quick = await waitFor(() => t.processes().find((s) => s.parentId === p.id && s.args[0] === '0.3'), 5000, 'the short child');
    await waitFor(() => t.get(quick.id)?.alive === false, 5000, 'the short child to end');
    await waitFor(() => t.get(quick.id) === undefined, 2000, 'its row to go');
    const long = await waitFor(() => t.processes().find((s) => s.parentId === p.id && s.args[0] === '30'), 5000, 'the long child');
    await t.terminate(p.id);
    assert.equal(t.get(long.id)?.alive, false, 'right after terminate the row shows the child ended');
    await waitFor(() => t.get(long.id) === undefined, 2000, 'its row to go');
    assert.equal(t.get(p.id)?.exitCode, -15, 'the launched process keeps its row');
  });
});

describe('ProcessTable: shutdown', () => {
  it('terminates daemons, joins the others, then terminates them, logging as multiprocessing does', async () => {
    const { table: t, logger: log } = makeTable({ shutdownJoinTimeoutMs: 300 });
    const daemon = await t.start({ command: 'sleep', args: ['300'], name: 'daemon', daemon: true });
    const worker = await t.start({ command: fixture('fork-tree.sh'), args: ['1'], name: 'worker' });
    const quick = await t.start({ command: 'sleep', args: ['0.1'], name: 'quick' });
    await waitFor(() => t.processes().some((s) => s.kind === 'discovered' && s.command === 'sleep'), 5000, 'worker child');
    const pids = t.processes().filter((s) => s.alive).map((s) => s.pid as number);
    const began = Date.now();
    await t.shutdown();
    const took = Date.now() - began;
    assert.ok(took < 3000, `shutdown took ${took} ms`);
    for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
    const lines = log.lines();
    const terminateLine = lines.indexOf('[INFO/MainProcess] calling terminate() for daemon daemon');
    const joinLine = lines.indexOf('[INFO/MainProcess] calling join() for process worker');
    assert.ok(terminateLine >= 0 && joinLine > terminateLine, lines.join('\n'));
    assert.equal(t.get(daemon.id)?.exitCode, -15);
    assert.equal(t.get(worker.id)?.exitCode, -15);
    assert.equal(t.get(quick.id)?.exitCode, 0);
    await assert.rejects(t.start({ command: 'true' }), /shutting down/);
    t.dispose();
  });
});
