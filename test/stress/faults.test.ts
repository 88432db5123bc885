// Faults: processes that crash, escape, leave zombies, lose their parent, close their output early, print garbage, or
// print a gigabyte. Each is started through a real supervisor and ended by ProcScope itself; cleanUpAll ends leftovers.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeState, stripControl } from '../../src/core/describe';
import type { ProcessSnapshot } from '../../src/core/types';
import { cleanUpAll, isRunning, makeService, tempDir, waitFor } from '../unit/helpers';
import { childrenOf, collectGarbage, isGone, mb, MB, ownerOf, procState, processesMarkedBy, recordFigures, signal, statusBytes } from './stress';

after(cleanUpAll);

const work = tempDir('procscope-stress-faults-');
const OUTPUT_CAP = 1024 * 1024;
const { service } = makeService({ killTimeoutMs: 1000, outputBufferBytes: OUTPUT_CAP }, { defaultCwd: () => work });
let owner = '';
const figures: Record<string, unknown> = {};

/** Every row below `id`, depth first. */
function below(id: string): ProcessSnapshot[] {
  return service.processes().filter((s) => s.parentId === id).flatMap((s) => [s, ...below(s.id)]);
}

/** The tree of `id` is over: every row ended, and no process carrying our mark is alive. */
async function assertAllGone(what: string): Promise<void> {
  await waitFor(() => processesMarkedBy(owner).length === 0, 10_000, `no live process with our mark (${what}): ${processesMarkedBy(owner).join(', ')}`);
  await waitFor(() => service.processes().every((p) => !p.alive), 10_000, `every row ended (${what})`);
}

function script(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

/** A visible character that is a control, an escape, or an invisible direction/width character. */
// eslint-disable-next-line no-control-regex
const UNCLEAN = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

describe('faults', () => {
  before(async () => {
    const first = await service.start({ command: 'sleep', args: ['60'], name: 'mark-probe' });
    owner = ownerOf(first.pid as number);
    await service.kill(first.id);
  });

  it('a SIGSEGV crash reads -11 and stopped[SIGSEGV]', async () => {
    const p = await service.start({ command: 'sh', args: ['-c', 'ulimit -c 0; kill -SEGV $$'], name: 'segfault' });
    const joined = await service.join(p.id, 15_000);
    assert.equal(joined.alive, false);
    assert.equal(joined.exitCode, -11);
    assert.equal(joined.status, 'stopped[SIGSEGV]');
    assert.match(describeState(joined), /^exitcode -11 \(SIGSEGV\)/);
  });

  for (const parentStays of [true, false]) {
    it(`a double-forked setsid daemon (parent ${parentStays ? 'stays' : 'exits at once'}) is found by its mark and ended by terminate`, async () => {
      const path = script(`double_fork_${parentStays}.py`, [
        'import os, sys, time',
        'pid = os.fork()',
        'if pid == 0:',
        '    os.setsid()',
        '    if os.fork() == 0:',
        '        os.execvp("sleep", ["sleep", "300"])',
        '    os._exit(0)',
        'os.waitpid(pid, 0)',
        'print("daemonized", flush=True)',
        parentStays ? 'time.sleep(300)' : 'sys.exit(0)',
        '',
      ].join('\n'));
      const root = await service.start({ command: 'python3', args: [path], instrument: 'none', name: `double-fork-${parentStays ? 'stays' : 'exits'}` });
      const escapee = await waitFor(() => processesMarkedBy(owner).find((pid) => pid !== root.pid && readComm(pid) === 'sleep'), 15_000, 'the double-forked sleep');
      assert.notEqual(readSid(escapee), root.pid, 'the escapee is in a session of its own');
      assert.notEqual(readPpid(escapee), root.pid, 'the escapee is not a child of the root');
      const row = await waitFor(() => below(root.id).find((p) => p.pid === escapee && p.alive), 15_000, 'the escapee as a row under its launch');
      assert.equal(row.kind, 'discovered');
      const ended = await service.terminate(root.id);
      assert.equal(ended.alive, false);
      assert.ok(isGone(escapee), `the escapee ${escapee} survived terminate (state ${procState(escapee)})`);
      await assertAllGone('double fork');
    });
  }

  it('a parent that never reaps its children (zombies): terminate still ends the tree and every row ends', async () => {
    const path = script('zombies.py', [
      'import os, time',
      'for _ in range(5):',
      '    if os.fork() == 0:',
      '        os._exit(0)',
      'for _ in range(3):',
      '    if os.fork() == 0:',
      '        time.sleep(300)',
      '        os._exit(0)',
      'print("ready", flush=True)',
      'time.sleep(300)',
      '',
    ].join('\n'));
    const root = await service.start({ command: 'python3', args: [path], instrument: 'none', name: 'zombie-maker' });
    const pid = root.pid as number;
    // The interpreter may run under a shim that exec'd it: the program is whatever process holds the five zombies.
    await waitFor(() => {
      const kids = childrenOf(pid);
      return kids.filter((k) => procState(k) === 'Z').length === 5 && kids.filter((k) => procState(k) === 'S').length === 3;
    }, 15_000, 'five zombies and three sleeping children');
    await waitFor(() => below(root.id).filter((p) => p.alive).length === 3, 15_000, 'three live children shown');
    const live = childrenOf(pid).filter((k) => procState(k) === 'S');
    const ended = await service.terminate(root.id);
    assert.equal(ended.exitCode, -15);
    for (const k of live) assert.ok(isGone(k), `child ${k} survived`);
    await assertAllGone('zombies');
    assert.deepEqual(below(root.id).filter((p) => p.alive), []);
  });

  it('a Python parent SIGKILLed from outside: its multiprocessing children are still shown, terminable, and gone after stopAll', async () => {
    const path = script('orphaning.py', [
      'import multiprocessing as mp, time',
      'def work():',
      '    time.sleep(300)',
      'if __name__ == "__main__":',
      '    workers = [mp.Process(target=work, name=f"worker-{i}") for i in range(3)]',
      '    for w in workers:',
      '        w.start()',
      '    print("started", flush=True)',
      '    time.sleep(300)',
      '',
    ].join('\n'));
    const root = await service.start({ command: 'python3', args: [path], name: 'orphaning-parent' });
    const workers = await waitFor(() => {
      const rows = service.processes().filter((p) => /^worker-\d$/.test(p.name) && p.alive && p.pid !== null);
      return rows.length === 3 ? rows : undefined;
    }, 20_000, 'three worker rows');
    for (const w of workers) assert.equal(w.kind, 'python');
    const programPid = workers[0].ppid as number;
    signal(programPid, 'SIGKILL');
    if (programPid !== root.pid) signal(root.pid as number, 'SIGKILL');
    const dead = await waitFor(() => {
      const r = service.get(root.id);
      return r && !r.alive ? r : undefined;
    }, 10_000, 'the parent row to end');
    assert.equal(dead.exitCode, -9);
    // The children live on, and are still shown alive.
    for (const w of workers) {
      assert.ok(isRunning(w.pid as number), `${w.name} died with its parent`);
      assert.equal(service.get(w.id)?.alive, true, `${w.name} is still shown alive`);
    }
    const first = await service.terminate(workers[0].id);
    assert.equal(first.alive, false);
    assert.ok(isGone(workers[0].pid as number), 'the terminated orphan is gone');
    assert.ok(isRunning(workers[1].pid as number), 'terminating one orphan leaves the others');
    await service.stopAll();
    for (const w of workers) assert.ok(isGone(w.pid as number), `${w.name} survived stopAll`);
    await assertAllGone('orphans');
  });

  it('a child that closes stdout and stderr early and keeps running: still alive, and its output is complete after join', async () => {
    const release = join(work, 'release-closer');
    const p = await service.start({
      command: 'sh', args: ['-c', 'echo early; echo warn >&2; exec >&- 2>&-; while [ ! -e "$1" ]; do sleep 0.05; done; exit 4', 'sh', release], name: 'closer',
    });
    const pid = p.pid as number;
    await waitFor(() => !existsSync(`/proc/${pid}/fd/1`) && !existsSync(`/proc/${pid}/fd/2`), 10_000, 'stdout and stderr closed');
    await waitFor(() => service.output(p.id) === 'early\nwarn\n', 10_000, 'the early output');
    assert.equal(service.get(p.id)?.alive, true, 'closing its output does not end the row');
    assert.ok(isRunning(pid));
    writeFileSync(release, '');
    const joined = await service.join(p.id, 15_000);
    assert.equal(joined.exitCode, 4);
    assert.equal(service.output(p.id), 'early\nwarn\n');
  });

  it('invalid UTF-8, ANSI escapes and control characters: output keeps them readable, the row stays clean', async () => {
    const writer = [
      'process.stdout.write(Buffer.from([0x66, 0x6f, 0xff, 0xfe, 0x6f, 0x0a]));',
      'process.stdout.write("\\x1b[31mred\\x1b[0m \\x07bell \\u202eevil\\r\\n");',
      'process.stdout.write(Buffer.from([0xc3, 0x0a]));',
    ].join('');
    // A descendant whose argv carries escapes: a discovered row's description shows its command line.
    const hostile = "exec -a $'\\e]0;title\\a\\e[31mred\\x07\\u202e' sleep 300";
    const p = await service.start({ command: 'bash', args: ['-c', `node -e '${writer}'; (${hostile}) & wait`], name: 'garbage' });
    const child = await waitFor(() => below(p.id).find((c) => c.alive && c.command !== 'node' && /sleep|red/.test(`${c.command} ${c.args.join(' ')}`)), 15_000, 'the hostile child row');
    await waitFor(() => service.output(p.id).includes('bell'), 10_000, 'the output');
    const text = service.output(p.id);
    assert.ok(text.startsWith('fo\ufffd\ufffdo\n'), `invalid UTF-8 becomes U+FFFD: ${JSON.stringify(text.slice(0, 20))}`);
    assert.ok(text.includes('\x1b[31mred\x1b[0m'), 'the output itself is kept as printed');
    for (const row of [service.get(p.id), service.get(child.id)] as ProcessSnapshot[]) {
      assert.doesNotMatch(stripControl(row.name), UNCLEAN, `name ${JSON.stringify(row.name)}`);
      assert.doesNotMatch(describeState(row), UNCLEAN, `description ${JSON.stringify(describeState(row))}`);
    }
    figures.hostileChildDescription = describeState(service.get(child.id) as ProcessSnapshot);
    await service.terminate(p.id);
    await assertAllGone('garbage');
  });

  it('a 5 MB line without a newline: output() is bounded and the row is clean', async () => {
    const p = await service.start({ command: 'node', args: ['-e', 'process.stdout.write("head\\n" + "y".repeat(5 * 1024 * 1024))'], name: 'long-line' });
    const joined = await service.join(p.id, 30_000);
    assert.equal(joined.exitCode, 0);
    const text = service.output(p.id);
    const bytes = Buffer.byteLength(text);
    assert.ok(bytes <= OUTPUT_CAP, `output() is ${bytes} bytes, over the ${OUTPUT_CAP} cap`);
    assert.ok(bytes > 0, 'something of the line is kept');
    assert.match(text, /y{1000}/);
    assert.doesNotMatch(describeState(joined), UNCLEAN);
    figures.longLine = { printedBytes: 5 * MB + 5, outputBytes: bytes, cap: OUTPUT_CAP };
  });

  it('1 GB of output from one child: supervisor and test-process memory stay bounded, output() within outputBufferBytes', async () => {
    const supervisorPid = service.supervisorPid as number;
    collectGarbage();
    const supervisorBefore = statusBytes(supervisorPid, 'VmRSS') as number;
    const selfBefore = process.memoryUsage().rss;
    let selfPeak = selfBefore;
    let supervisorPeak = supervisorBefore;
    const sampler = setInterval(() => {
      selfPeak = Math.max(selfPeak, process.memoryUsage().rss);
      supervisorPeak = Math.max(supervisorPeak, statusBytes(supervisorPid, 'VmRSS') ?? 0);
    }, 50);
    const line = '0123456789abcdefghijklmnopqrstuvwxyz'.repeat(3);
    const started = Date.now();
    const p = await service.start({ command: 'sh', args: ['-c', `yes '${line}' | head -c 1073741824`], name: 'gigabyte' });
    const joined = await service.join(p.id, 180_000);
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    assert.equal(joined.exitCode, 0);
    const stored = service.storedOutput(p.id);
    const text = service.output(p.id);
    collectGarbage();
    const supervisorAfter = statusBytes(supervisorPid, 'VmRSS') as number;
    const selfAfter = process.memoryUsage().rss;
    figures.gigabyte = {
      bytes: 1024 * MB, seconds, mbPerSecond: Math.round(1024 / seconds),
      totalBytesSeen: stored.totalBytes, outputBytes: Buffer.byteLength(text), cap: OUTPUT_CAP,
      supervisorRssMB: { before: mb(supervisorBefore), peak: mb(supervisorPeak), after: mb(supervisorAfter) },
      supervisorHwmMB: mb(statusBytes(supervisorPid, 'VmHWM')),
      testProcessRssMB: { before: mb(selfBefore), peak: mb(selfPeak), after: mb(selfAfter) },
    };
    // head cuts the last line short; the writer completes it with a newline at the end of the stream: 1 GB + 1 byte.
    const partial = (1024 * MB) % (line.length + 1) === 0 ? 0 : 1;
    assert.equal(stored.totalBytes, 1024 * MB + partial, 'every byte went through');
    assert.ok(Buffer.byteLength(text) <= OUTPUT_CAP, 'output() within the cap');
    const lines = text.split('\n');
    assert.equal(lines.pop(), '', 'output() ends with a newline');
    const last = lines.pop() as string;
    assert.ok(line.startsWith(last), 'the cut last line is kept as printed');
    assert.deepEqual(lines.filter((l) => l !== line), [], 'output() holds whole lines only');
    assert.ok(supervisorPeak - supervisorBefore < 64 * MB, `supervisor RSS grew ${mb(supervisorPeak - supervisorBefore)} MB`);
    assert.ok(selfPeak - selfBefore < 64 * MB, `test process RSS grew ${mb(selfPeak - selfBefore)} MB`);
  });

  after(() => recordFigures('faults', figures));
});

function statFields(pid: number): string[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return [];
  }
}

function readPpid(pid: number): number {
  return Number(statFields(pid)[1]);
}

function readSid(pid: number): number {
  return Number(statFields(pid)[3]);
}

function readComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
