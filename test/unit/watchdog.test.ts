import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { sameProcess } from '../../src/core/os/identity';
import { readStat } from '../../src/core/os/procfs';
import { WatchdogClient } from '../../src/core/watchdog/client';
import { applyLine, emptyRegistry } from '../../src/core/watchdog/protocol';
import { ownerMark } from '../shared/marks';
import { isRunning, ROOT, waitFor } from './helpers';

interface HostReport {
  pids: number[];
  watchdog: number;
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
  const report = await waitFor(() => (text.includes('\n') ? (JSON.parse(text.split('\n')[0]) as HostReport) : undefined), 10_000, 'the host to report');
  for (const pid of [...report.pids, report.watchdog]) started.push({ pid, startTime: readStat(pid)?.startTime });
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

  it('ends a process it was never told of (its registration still held back) by the mark it carries, with its group', async () => {
    const { host, exited, report } = await startHost('unregistered');
    assert.ok(report.pids.length >= 3, `expected the launch and its children, got ${JSON.stringify(report.pids)}`);
    for (const pid of report.pids) assert.ok(isRunning(pid));
    assert.ok(report.pids.some((pid) => ownerMark(pid) === undefined), 'one of them (env -i) carries no mark: only its group ends it');
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
    applyLine(registry, 'bogus');
    assert.deepEqual([...registry.groups], [[100, { leaderPid: 100, startTime: 5555 }]]);
    assert.deepEqual([...registry.processes], [[200, 6666]]);
    assert.deepEqual([...registry.owners], ['3f9a0c']);
    applyLine(registry, 'G 100');
    applyLine(registry, 'P 200');
    assert.equal(registry.groups.size + registry.processes.size, 0);
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
