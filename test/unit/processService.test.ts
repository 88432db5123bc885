import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { readEnvironValue } from '../../src/core/os/procfs';
import { SUPERVISOR_NODE_OPTIONS, supervisorMallocEnv } from '../../src/core/supervisorMemory';
import type { ProcessSnapshot } from '../../src/core/types';
import { statusBytes } from '../shared/procStatus';
import { cleanUpAll, fixture, isRunning, makeService, ROOT, waitFor } from './helpers';

const { service, logger } = makeService({ killTimeoutMs: 500 });
after(cleanUpAll);

/** Every process below `id`. */
function descendantsOf(id: string): ProcessSnapshot[] {
  const below = service.processes().filter((s) => s.parentId === id);
  return below.flatMap((s) => [s, ...descendantsOf(s.id)]);
}

describe('processes through the supervisor: starting and naming', () => {
  it('names processes Process-N, counting every start, and keeps a custom name', async () => {
    const first = await service.start({ command: 'true' });
    const named = await service.start({ command: 'true', name: 'my_service' });
    const third = await service.start({ command: 'true' });
    const n = Number(first.name.replace('Process-', ''));
    assert.match(first.name, /^Process-\d+$/);
    assert.equal(named.name, 'my_service');
    assert.equal(third.name, `Process-${n + 2}`);
    await Promise.all([first, named, third].map((p) => service.join(p.id)));
  });

  it('reports pid, daemon flag and liveness while running; the parent is the supervisor, not the host', async () => {
    const p = await service.start({ command: 'sleep', args: ['30'], name: 'heartbeat', daemon: true });
    assert.equal(typeof p.pid, 'number');
    assert.equal(p.alive, true);
    assert.equal(p.daemon, true);
    assert.equal(p.exitCode, null);
    assert.equal(p.status, 'started');
    assert.equal(p.kind, 'launched');
    assert.equal(p.ppid, service.supervisorPid);
    assert.notEqual(p.ppid, process.pid);
    assert.ok(isRunning(p.pid as number));
    const ended = await service.terminate(p.id);
    assert.equal(ended.alive, false);
    assert.equal(ended.exitCode, -15);
    assert.equal(ended.status, 'stopped[SIGTERM]');
  });

  it('the supervisor runs with its own malloc settings; what it starts gets the user\'s environment, without them', async () => {
    const p = await service.start({ command: 'bash', args: ['-c', 'env; sleep 30'], name: 'env' });
    const supervisor = service.supervisorPid as number;
    assert.equal(readEnvironValue(supervisor, 'MALLOC_ARENA_MAX'), process.env.MALLOC_ARENA_MAX ?? '1');
    assert.equal(readEnvironValue(supervisor, 'MALLOC_MMAP_THRESHOLD_'), process.env.MALLOC_MMAP_THRESHOLD_ ?? '8192');
    assert.equal(readEnvironValue(supervisor, 'MALLOC_TOP_PAD_'), process.env.MALLOC_TOP_PAD_ ?? '0');
    // (GLIBC_TUNABLES is not looked at here: glibc rewrites the string /proc/PID/environ shows as it parses it.)
    const cmdline = readFileSync(`/proc/${supervisor}/cmdline`, 'latin1').split('\0');
    for (const option of SUPERVISOR_NODE_OPTIONS) assert.ok(cmdline.includes(option), option);
    const env = await waitFor(() => (/^HOME=/m.test(service.output(p.id)) ? service.output(p.id) : undefined), 10_000, 'the env output');
    const malloc = env.split('\n').filter((line) => /^(MALLOC_|GLIBC_TUNABLES=|PROCSCOPE_SUPERVISOR)/.test(line));
    const users = Object.entries(process.env).filter(([name]) => name.startsWith('MALLOC_') || name === 'GLIBC_TUNABLES').map(([name, value]) => `${name}=${value}`);
    assert.deepEqual(malloc, users);
    await service.terminate(p.id);
  });

  it('logs the start with pid and command line, and the exit code', async () => {
    const p = await service.start({ command: 'bash', args: [fixture('exit-code.sh'), '0'], name: 'logged' });
    await service.join(p.id);
    const lines = logger.lines();
    assert.ok(lines.includes(`[INFO/logged] process started with pid ${p.pid}: bash ${fixture('exit-code.sh')} 0`), lines.join('\n'));
    assert.ok(lines.includes('[INFO/logged] process exiting with exitcode 0'));
  });
});

describe('processes through the supervisor: exit codes', () => {
  it('gives 0 and 3 for normal exits', async () => {
    const ok = await service.start({ command: fixture('exit-code.sh'), args: ['0'] });
    const three = await service.start({ command: fixture('exit-code.sh'), args: ['3'] });
    assert.equal((await service.join(ok.id)).exitCode, 0);
    const joined = await service.join(three.id);
    assert.equal(joined.exitCode, 3);
    assert.equal(joined.status, 'stopped[3]');
  });

  it('gives minus the signal number when the process dies of a signal', async () => {
    const killed = await service.start({ command: fixture('die-by-signal.sh'), args: ['KILL'] });
    const termed = await service.start({ command: fixture('die-by-signal.sh'), args: ['TERM'] });
    assert.equal((await service.join(killed.id)).exitCode, -9);
    const t = await service.join(termed.id);
    assert.equal(t.exitCode, -15);
    assert.equal(t.status, 'stopped[SIGTERM]');
  });
});

describe('processes through the supervisor: join', () => {
  it('returns after the timeout with the process still alive, and is not an error', async () => {
    const p = await service.start({ command: 'sleep', args: ['30'] });
    const began = Date.now();
    const joined = await service.join(p.id, 200);
    assert.ok(Date.now() - began >= 190);
    assert.equal(joined.alive, true);
    assert.equal(joined.exitCode, null);
    await service.kill(p.id);
  });

  it('waits past the timer limit for a huge timeout instead of returning at once', async () => {
    const p = await service.start({ command: 'sleep', args: ['1'] });
    const began = Date.now();
    const joined = await service.join(p.id, 3e9);
    assert.ok(Date.now() - began >= 800, `returned after ${Date.now() - began} ms`);
    assert.equal(joined.alive, false);
    assert.equal(joined.exitCode, 0);
  });

  it('returns at once for a finished process, with its whole output', async () => {
    const p = await service.start({ command: 'node', args: [fixture('no-newline.js')] });
    const joined = await service.join(p.id);
    assert.equal(joined.exitCode, 0);
    assert.equal(service.output(p.id), 'hello\nworld\npartial\n');
    const again = await service.join(p.id, 0);
    assert.deepEqual(again, joined);
  });

  it('rejects a bad timeout and an unknown id, repeating the value', async () => {
    const p = await service.start({ command: 'true' });
    await assert.rejects(service.join(p.id, -1), { message: 'Expected `timeoutMs` to be a non-negative number of milliseconds, got -1 (number)' });
    await assert.rejects(service.join(p.id, 'soon' as unknown as number), /got "soon" \(string\)/);
    await assert.rejects(service.join('p-nope'), { message: 'No process with id "p-nope" (string)' });
    await assert.rejects(service.terminate('p-nope'), /No process with id "p-nope"/);
    assert.throws(() => service.output('p-nope'), /No process with id/);
  });
});

describe('processes through the supervisor: output', () => {
  it('captures stdout and stderr line-whole and tells them apart', async () => {
    const p = await service.start({ command: fixture('exit-code.sh'), args: ['0'] });
    await service.join(p.id);
    assert.equal(service.output(p.id).split('\n').sort().join('\n'), '\nto stderr\nto stdout');
    const streams = service.storedOutput(p.id).segments.map((s) => [s.stream, s.data.toString()]);
    assert.deepEqual(streams.sort(), [[0, 'to stdout\n'], [1, 'to stderr\n']]);
  });

  it('keeps a flood within the buffer cap and ends on the last line', async () => {
    const { service: small } = makeService({ outputBufferBytes: 64 * 1024 });
    const p = await small.start({ command: 'node', args: [fixture('flood.js'), '200000'] });
    await small.join(p.id);
    const stored = small.storedOutput(p.id);
    const text = small.output(p.id);
    assert.ok(text.length <= 64 * 1024, `${text.length} bytes kept`);
    assert.ok(stored.totalBytes > 5_000_000, `${stored.totalBytes} bytes seen`);
    assert.match(text, /out 199999 x+\n$/);
    for (const line of text.split('\n').slice(0, -1)) assert.match(line, /^(out \d+ x*|err \d+)$/);
  });

  it('sets PYTHONUNBUFFERED unless the spec says otherwise, and merges env over the inherited one', async () => {
    const a = await service.start({ command: 'sh', args: ['-c', 'echo "$PYTHONUNBUFFERED $HOME $EXTRA"'], env: { EXTRA: 'x' } });
    const b = await service.start({ command: 'sh', args: ['-c', 'echo "$PYTHONUNBUFFERED"'], env: { PYTHONUNBUFFERED: '' } });
    await service.join(a.id);
    await service.join(b.id);
    assert.equal(service.output(a.id), `1 ${process.env.HOME} x\n`);
    assert.equal(service.output(b.id), '\n');
  });

  it('runs no shell unless asked', async () => {
    const plain = await service.start({ command: 'echo', args: ['$HOME', '&&', 'ls'] });
    const shell = await service.start({ command: 'echo $((6*7))', shell: true });
    await service.join(plain.id);
    await service.join(shell.id);
    assert.equal(service.output(plain.id), '$HOME && ls\n');
    assert.equal(service.output(shell.id), '42\n');
  });

  it('relays output lines to the host as they arrive', async () => {
    const seen: string[] = [];
    const subscription = service.onOutput((notice) => seen.push(notice.text));
    const p = await service.start({ command: 'sh', args: ['-c', 'echo first; echo second >&2'] });
    await service.join(p.id);
    await waitFor(() => seen.join('').includes('second'), 5000, 'the relayed lines');
    subscription.dispose();
    assert.ok(seen.join('').includes('first\n'));
  });

  it('relays each process its own lines, whole and in order, when several print at once', async () => {
    const texts = new Map<string, string>();
    const subscription = service.onOutput((notice) => texts.set(notice.id, (texts.get(notice.id) ?? '') + notice.text));
    const started = await Promise.all([0, 1, 2, 3].map((n) => service.start({ command: 'sh', args: ['-c', `for i in $(seq 1 3000); do echo "p${n} line $i"; done`] })));
    for (const p of started) await service.join(p.id);
    await waitFor(() => started.every((p) => (texts.get(p.id) ?? '').includes(' line 3000\n')), 10_000, 'the last lines relayed');
    subscription.dispose();
    for (const [n, p] of started.entries()) {
      // Lines may be skipped (the relay is bounded), never torn, mixed with another process's or out of order.
      const lines = (texts.get(p.id) as string).split('\n').slice(0, -1);
      let previous = 0;
      for (const line of lines) {
        const match = new RegExp(`^p${n} line (\\d+)$`).exec(line);
        assert.ok(match, `${p.id}: ${JSON.stringify(line)}`);
        assert.ok(Number(match[1]) > previous);
        previous = Number(match[1]);
      }
      assert.equal(service.output(p.id).split('\n').length, 3001);
    }
  });
});

describe('processes through the supervisor: bad input', () => {
  it('rejects a missing executable, logs it at ERROR, and leaves nothing behind', async () => {
    const before = service.processes().length;
    await assert.rejects(service.start({ command: 'no-such-command-procscope' }), {
      message: /^Cannot start "no-such-command-procscope": executable not found \(ENOENT\)/,
    });
    assert.equal(service.processes().length, before);
    await waitFor(() => logger.lines().some((l) => l.startsWith('[ERROR/MainProcess] cannot start process: Cannot start "no-such-command-procscope"')), 2000, 'the ERROR record');
  });

  it('says what is wrong with a directory, a file without exec permission and a NUL byte', async () => {
    await assert.rejects(service.start({ command: '/tmp' }), { message: 'Cannot start "/tmp": is a directory' });
    await assert.rejects(service.start({ command: fixture('python/plain.py') }), { message: /^Cannot start ".*plain\.py": is not executable \(EACCES\)$/ });
    await assert.rejects(service.start({ command: 'ec\u0000ho' }), /`command` without NUL bytes, but it contains a NUL byte/);
    await assert.rejects(service.start({ command: 'echo', args: ['a', 'b\u0000'] }), /`args\[1\]` without NUL bytes/);
  });

  it('rejects sparse args instead of running the word undefined', async () => {
    // eslint-disable-next-line no-sparse-arrays -- the point of the test
    await assert.rejects(service.start({ command: 'echo', args: ['x', , 'x'] as string[] }), /`args\[1\]` to be a string, got a hole/);
  });

  it('rejects a cwd that does not exist', async () => {
    await assert.rejects(service.start({ command: 'ls', cwd: '/definitely/not/here' }), /Working directory does not exist: `cwd` is "\/definitely\/not\/here"/);
  });

  it('takes a relative cwd from the default folder', async () => {
    const { service: s } = makeService({}, { defaultCwd: () => fixture('.') });
    const p = await s.start({ command: 'pwd', cwd: 'python' });
    await s.join(p.id);
    assert.equal(s.output(p.id), `${fixture('python')}\n`);
    assert.equal(p.cwd, fixture('python'));
  });

  it('rejects an empty command', async () => {
    await assert.rejects(service.start({ command: '' }), /Expected `command` to be a non-empty string, got "" \(string\)/);
  });
});

describe('processes through the supervisor: process trees', () => {
  it('discovers descendants, names them as multiprocessing would, and ends them all on terminate', async () => {
    const p = await service.start({ command: fixture('fork-tree.sh'), args: ['3'], name: 'tree' });
    const children = await waitFor(() => {
      const found = descendantsOf(p.id).filter((s) => s.alive);
      return found.length >= 6 ? found : undefined;
    }, 10_000, 'six discovered descendants');
    const direct = children.filter((c) => c.parentId === p.id);
    assert.equal(direct.length, 3);
    assert.deepEqual(direct.map((c) => c.name).sort(), ['tree:1', 'tree:2', 'tree:3']);
    for (const c of children.filter((c) => c.parentId !== p.id)) {
      const parent = service.get(c.parentId as string);
      assert.equal(c.name, `${parent?.name}:1`);
      assert.equal(c.command, 'sleep');
      assert.equal(c.ppid, parent?.pid);
    }
    const pids = [p.pid as number, ...children.map((c) => c.pid as number)];
    const ended = await service.terminate(p.id);
    assert.equal(ended.exitCode, -15);
    for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
    for (const c of children) assert.equal(service.get(c.id)?.alive, false);
  });

  it('escalates to SIGKILL, logged at WARNING, when the tree ignores SIGTERM', async () => {
    const p = await service.start({ command: fixture('ignores-sigterm.sh'), name: 'stubborn' });
    await waitFor(() => descendantsOf(p.id).filter((s) => s.alive && s.command === 'sleep').length >= 2, 10_000, 'the stubborn tree');
    const pids = [p, ...descendantsOf(p.id)].map((s) => s.pid as number);
    const began = Date.now();
    const ended = await service.terminate(p.id);
    assert.ok(Date.now() - began >= 450, 'waited the kill timeout before SIGKILL');
    assert.equal(ended.exitCode, -9);
    assert.ok(logger.lines().some((l) => /^\[WARNING\/stubborn\] \d+ process(es)? still alive 500 ms after SIGTERM: sending SIGKILL$/.test(l)));
    // SIGKILL within killTimeoutMs + 100 ms, as the supervisor measured it.
    const sent = logger.lines().map((l) => /^\[DEBUG\/stubborn\] SIGKILL sent (\d+) ms after SIGTERM$/.exec(l)?.[1]).find(Boolean);
    assert.ok(sent !== undefined && Number(sent) >= 500 && Number(sent) <= 600, `SIGKILL sent ${sent} ms after SIGTERM`);
    for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
  });

  it('kill ends the tree with SIGKILL', async () => {
    const p = await service.start({ command: fixture('fork-tree.sh'), args: ['2'] });
    await waitFor(() => descendantsOf(p.id).filter((s) => s.alive && s.command === 'sleep').length >= 2, 10_000, 'sleepers');
    const pids = [p, ...descendantsOf(p.id)].map((s) => s.pid as number);
    const ended = await service.kill(p.id);
    assert.equal(ended.exitCode, -9);
    for (const pid of pids) assert.ok(!isRunning(pid), `pid ${pid} still running`);
  });

  it('terminating a finished process is a no-op', async () => {
    const p = await service.start({ command: 'true' });
    const joined = await service.join(p.id);
    assert.deepEqual(await service.terminate(p.id), joined);
  });

  it('ends orphans that outlived their parent', async () => {
    const p = await service.start({ command: 'bash', args: ['-c', 'sleep 300 & sleep 0.3; exit 0'] });
    await service.join(p.id);
    assert.equal(service.get(p.id)?.exitCode, 0);
    const orphan = await waitFor(() => descendantsOf(p.id).find((s) => s.alive && s.command === 'sleep' && s.args[0] === '300'), 10_000, 'the sleeper');
    assert.ok(isRunning(orphan.pid as number));
    await service.terminate(p.id);
    assert.ok(!isRunning(orphan.pid as number), 'orphan still running');
  });
});

describe('processes through the supervisor: restart in place', () => {
  it('keeps the row, id, name and place, counts restarts, keeps the last exit code and marks the boundary', async () => {
    const first = await service.start({ command: 'sh', args: ['-c', 'echo run; exit 1'], name: 'again' });
    const after = await service.start({ command: 'true', name: 'after-it' });
    await service.join(first.id);
    const order = () => service.processes().filter((p) => p.parentId === null).map((p) => p.id);
    const before = order();
    const restarted = await service.restart(first.id);
    assert.equal(restarted.id, first.id);
    assert.equal(restarted.name, 'again');
    assert.equal(restarted.restarts, 1);
    assert.equal(restarted.lastExitCode, 1);
    assert.notEqual(restarted.pid, first.pid);
    assert.deepEqual(order(), before, 'the row stays where it was');
    await service.join(first.id);
    assert.equal(service.output(first.id), 'run\n── restarted (exitcode 1), run 2 ──\nrun\n');
    const second = await service.restart(first.id);
    assert.equal(second.restarts, 2);
    await service.join(first.id);
    await service.join(after.id);
  });

  it('ends a running process before starting it again', async () => {
    const p = await service.start({ command: 'sleep', args: ['300'] });
    const restarted = await service.restart(p.id);
    assert.ok(!isRunning(p.pid as number));
    assert.equal(restarted.lastExitCode, -15);
    assert.ok(isRunning(restarted.pid as number));
    await service.kill(p.id);
  });
});

describe('processes through the supervisor: clear exited', () => {
  it('removes finished processes with their descendants, and keeps the running ones', async () => {
    const done = await service.start({ command: 'true' });
    const running = await service.start({ command: 'sleep', args: ['30'] });
    await service.join(done.id);
    const removed = await service.clearExited();
    assert.ok(removed.includes(done.id));
    assert.equal(service.get(done.id), undefined);
    assert.equal(service.get(running.id)?.alive, true);
    await service.kill(running.id);
  });
});

describe('the supervisor keeps itself small', () => {
  /** Runs test/fixtures/outputBurst.ts (N buffers of 64 KB dropped) as the supervisor runs; its RSS must fall by half the growth. */
  async function dropsAndGivesBack(buffers: number, minGrowth: number): Promise<void> {
    const child = spawn(process.execPath, [...SUPERVISOR_NODE_OPTIONS, resolve(ROOT, 'out/test/fixtures/outputBurst.js'), String(buffers)], {
      stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...supervisorMallocEnv(process.env) },
    });
    try {
      const [before, grown] = String((await once(child.stdout, 'data'))[0]).trim().split(' ').map(Number);
      const growth = grown - before;
      assert.ok(growth > minGrowth, `grew by ${growth} bytes only: the test would show nothing`);
      await waitFor(() => (statusBytes(child.pid as number, 'VmRSS') ?? Infinity) < before + growth / 2, 20_000, `the RSS (${before} before, ${grown} grown) to fall by half the growth`);
    } finally {
      child.kill('SIGKILL');
    }
  }

  it('after a burst of garbage, a quiet supervisor collects it within seconds (trimAfterGrowth)', { skip: process.platform !== 'linux' }, async () => {
    await dropsAndGivesBack(2048, 64 * 2 ** 20);
  });

  it('collects a few megabytes of dropped buffers too, well below the RSS growth that asks for a collection', { skip: process.platform !== 'linux' }, async () => {
    // 6 MB: as the hold buffers of a few floods leave behind; each buffer a mapping of its own, back to the kernel when
    // collected. Without the look at array buffers the supervisor would wait for 16 MB of growth, and keep these.
    await dropsAndGivesBack(96, 5 * 2 ** 20);
  });
});
