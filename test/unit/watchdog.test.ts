import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { sameProcess } from '../../src/core/os/identity';
import { isDead } from '../../src/core/os/osProcess';
import { createProcessSource, type ProcessSource } from '../../src/core/os/processSource';
import { ownerMark as ownerMarkOf, OWNER_VARIABLE } from '../../src/core/ownerMark';
import { cleanUp } from '../../src/core/watchdog/cleanup';
import { readStat } from '../../src/core/os/procfs';
import { WatchdogClient } from '../../src/core/watchdog/client';
import { applyLine, emptyRegistry } from '../../src/core/watchdog/protocol';
import { ownerMark } from '../shared/marks';
import { isRunning, ROOT, waitFor } from './helpers';

interface HostReport {
  pids: number[];
  watchdog: number;
  launch?: number;
}

/** Live processes of process group `pgid`, from /proc. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((p): p is NonNullable<typeof p> => p !== undefined && p.pgid === pgid && !isDead(p))
    .map((p) => p.pid);
}

/** Pids a failed test may leave, with their start stamps, so a reused pid is never hit. */
const started: { pid: number; startTime: number | undefined }[] = [];
after(() => {
  for (const { pid, startTime } of started) {
    if (!sameProcess(readStat(pid), startTime)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});

async function startHost(mode: 'wait' | 'shutdown' | 'unregistered'): Promise<{ host: ChildProcess; exited: Promise<unknown>; report: HostReport }> {
  const host = spawn(process.execPath, [resolve(ROOT, 'out/test/fixtures/host.js'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Listened for at once: a host that shuts down may be gone before its report is read.
  const exited = once(host, 'exit');
  let text = '';
  host.stdout?.setEncoding('utf8');
  host.stdout?.on('data', (chunk: string) => (text += chunk));
  const report = await waitFor(() => (text.includes('\n') ? (JSON.parse(text.split('\n')[0]) as HostReport) : undefined), 20_000, 'the host to report');
  for (const pid of [...report.pids, report.watchdog]) started.push({ pid, startTime: readStat(pid)?.startTime });
  // The launch's whole group (a member may be no row: an orphan that cleared its environment).
  if (report.launch !== undefined) {
    const launch = report.launch;
    await waitFor(() => groupMembers(launch).length >= 3 || undefined, 10_000, 'the group to stand');
    for (const pid of groupMembers(launch)) if (!report.pids.includes(pid)) report.pids.push(pid);
    for (const pid of report.pids) if (!started.some((s) => s.pid === pid)) started.push({ pid, startTime: readStat(pid)?.startTime });
  }
  return { host, exited, report };
}

describe('watchdog (the supervisor\'s last line of defence)', () => {
  it('ends every registered process, inside and outside the group, when the supervisor it watches is SIGKILLed', async () => {
    const { host, exited, report } = await startHost('wait');
    assert.equal(report.pids.length, 5, `expected 5 live processes, got ${JSON.stringify(report.pids)}`);
    for (const pid of report.pids) assert.ok(isRunning(pid));
    host.kill('SIGKILL');
    await exited;
    const began = Date.now();
    await waitFor(() => report.pids.every((pid) => !isRunning(pid)), 3000, `every pid of ${JSON.stringify(report.pids)} to be gone`);
    assert.ok(Date.now() - began < 3000);
    await waitFor(() => !isRunning(report.watchdog), 3000, 'the watchdog to exit');
  });

  it('ends processes it was never told of (their registration still held back) by the mark they carry and their group', async () => {
    const { host, exited, report } = await startHost('unregistered');
    assert.ok(report.pids.length >= 3, `expected the launch, its child and the orphan in its group, got ${JSON.stringify(report.pids)}`);
    for (const pid of report.pids) assert.ok(isRunning(pid));
    const orphan = report.pids.find((pid) => ownerMark(pid) === undefined && readStat(pid)?.ppid !== report.launch);
    assert.ok(orphan !== undefined, 'one (env -i, its parent gone) carries no mark and descends from no marked process: only its group ends it');
    host.kill('SIGKILL');
    await exited;
    await waitFor(() => report.pids.every((pid) => !isRunning(pid)), 5000, `every pid of ${JSON.stringify(report.pids)} to be gone`);
    await waitFor(() => !isRunning(report.watchdog), 3000, 'the watchdog to exit');
  });

  it('has nothing left to do after an orderly shutdown, and exits', async () => {
    const { exited, report } = await startHost('shutdown');
    await exited;
    for (const pid of report.pids) assert.ok(!isRunning(pid), `pid ${pid} survived shutdown`);
    await waitFor(() => !isRunning(report.watchdog), 3000, 'the watchdog to exit');
  });
});

describe('what the watchdog ends by mark', () => {
  /** A sleep carrying owner `abc123`'s mark, in a group of its own. */
  function markedSleep(): ChildProcess {
    const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore', env: { ...process.env, [OWNER_VARIABLE]: ownerMarkOf('abc123', 'p9') } });
    started.push({ pid: child.pid as number, startTime: undefined });
    return child;
  }
  const source = createProcessSource() as ProcessSource;

  it('a young process with the mark of a supervisor that died is ended; after an orderly exit, or once older, it is not', async () => {
    const child = markedSleep();
    const pid = child.pid as number;
    await waitFor(() => ownerMark(pid) !== undefined || undefined, 5000, 'the mark to be readable');
    const registry = emptyRegistry();
    applyLine(registry, 'o abc123');
    applyLine(registry, 'o other');
    registry.orderly = true;
    assert.equal(await cleanUp(registry, source, 500), 0, 'an orderly exit ends only what is registered');
    // Older than the age limit given: registered by now, or left the watch on purpose.
    await waitFor(() => { source.refreshClock(); const p = readStat(pid); return (p && (source.ageMs(p) ?? 0) >= 300) || undefined; }, 5000, 'the process to age');
    registry.orderly = false;
    assert.equal(await cleanUp(registry, source, 500, 100), 0, 'a marked process older than the limit is left alone');
    assert.ok(isRunning(pid));
    assert.equal(await cleanUp(registry, source, 500), 1, 'after a death, the young marked process is ended');
    await waitFor(() => !isRunning(pid) || undefined, 5000, 'the marked process to be gone');
    const other = emptyRegistry();
    applyLine(other, 'o abc12'); // a prefix of the mark's owner is another owner
    const second = markedSleep();
    await waitFor(() => ownerMark(second.pid as number) !== undefined || undefined, 5000, 'the mark to be readable');
    assert.equal(await cleanUp(other, source, 500), 0, 'another owner\'s mark is not ours');
    second.kill('SIGKILL');
  });
});

describe('watchdog protocol', () => {
  it('registers and forgets groups and processes, learns the mark, ignoring malformed lines', () => {
    const registry = emptyRegistry();
    applyLine(registry, 'g 100 100 5555');
    applyLine(registry, 'p 200 6666');
    applyLine(registry, 'p 1 1'); // never init
    applyLine(registry, 'g x y z');
    applyLine(registry, 'o 3f9a0c');
    applyLine(registry, 'o ../../etc');
    applyLine(registry, 'o two words');
    applyLine(registry, 'x now');
    assert.equal(registry.orderly, false);
    applyLine(registry, 'bogus');
    assert.deepEqual([...registry.groups], [[100, { leaderPid: 100, startTime: 5555 }]]);
    assert.deepEqual([...registry.processes], [[200, 6666]]);
    assert.deepEqual([...registry.owners], ['3f9a0c']);
    applyLine(registry, 'G 100');
    applyLine(registry, 'P 200');
    assert.equal(registry.groups.size + registry.processes.size, 0);
    applyLine(registry, 'x');
    assert.equal(registry.orderly, true);
  });
});

describe('what the watchdog is told', () => {
  it('holds lines back to write them together: registrations within a tenth of a second, forgets within a second, the mark at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'procscope-watchdog-'));
    const record = join(dir, 'writes');
    const client = new WatchdogClient(resolve(ROOT, 'test/fixtures/recordStdin.mjs'), process.execPath, { RECORD_STDIN_TO: record });
    const writes = () => (existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string) : []);
    try {
      client.watchMark('3f9a0c');
      await waitFor(() => writes().length === 1, 10_000, 'the mark');
      assert.deepEqual(writes(), ['o 3f9a0c\n'], 'the mark is written as the watchdog starts, on its own');
      // A burst: three starts and a forget, one write.
      let before = Date.now();
      client.addGroup(4242, 4242, 17);
      client.addGroup(4243, 4243, 18);
      client.removeGroup(4000);
      client.addProcess(4343, 19);
      await waitFor(() => writes().length === 2, 10_000, 'the registrations');
      assert.ok(Date.now() - before >= 90, `registrations held back ${Date.now() - before} ms`);
      assert.deepEqual(writes()[1], 'g 4242 4242 17\ng 4243 4243 18\nG 4000\np 4343 19\n', 'the burst went in one write, in order');
      // A forget on its own waits about a second.
      before = Date.now();
      client.removeProcess(4343);
      await waitFor(() => writes().length === 3, 10_000, 'the forget on its own');
      assert.ok(Date.now() - before >= 900, `forget held back ${Date.now() - before} ms`);
      assert.equal(writes()[2], 'P 4343\n');
      // A registration made while a forget waits takes it along, sooner.
      client.removeGroup(4242);
      client.addGroup(4444, 4444, 20);
      await waitFor(() => writes().length === 4, 10_000, 'the forget with the registration');
      assert.equal(writes()[3], 'G 4242\ng 4444 4444 20\n');
      client.removeGroup(4444);
      client.close();
      await waitFor(() => writes().join('').includes('G 4444'), 10_000, 'the forget written at close');
    } finally {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
