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
import { applyLine, type Registry } from '../../src/core/watchdog/protocol';
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

async function startHost(mode: 'wait' | 'shutdown'): Promise<{ host: ChildProcess; exited: Promise<unknown>; report: HostReport }> {
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

  it('has nothing left to do after an orderly shutdown, and exits', async () => {
    const { exited, report } = await startHost('shutdown');
    await exited;
    for (const pid of report.pids) assert.ok(!isRunning(pid), `pid ${pid} survived shutdown`);
    await waitFor(() => !isRunning(report.watchdog), 3000, 'the watchdog to exit');
  });
});

describe('watchdog protocol', () => {
  it('registers and forgets groups and processes, ignoring malformed lines', () => {
    const registry: Registry = { groups: new Map(), processes: new Map() };
    applyLine(registry, 'g 100 100 5555');
    applyLine(registry, 'p 200 6666');
    applyLine(registry, 'p 1 1'); // never init
    applyLine(registry, 'g x y z');
    applyLine(registry, 'bogus');
    assert.deepEqual([...registry.groups], [[100, { leaderPid: 100, startTime: 5555 }]]);
    assert.deepEqual([...registry.processes], [[200, 6666]]);
    applyLine(registry, 'G 100');
    applyLine(registry, 'P 200');
    assert.equal(registry.groups.size + registry.processes.size, 0);
  });
});

describe('what the watchdog is told', () => {
  it('registrations are written at once; forgets wait for the next registration, or a second at most', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'procscope-watchdog-'));
    const record = join(dir, 'writes');
    const client = new WatchdogClient(resolve(ROOT, 'test/fixtures/recordStdin.mjs'), process.execPath, { RECORD_STDIN_TO: record });
    const writes = () => (existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string) : []);
    try {
      client.addGroup(4242, 4242, 17);
      await waitFor(() => writes().length === 1, 10_000, 'the registration');
      assert.deepEqual(writes(), ['g 4242 4242 17\n']);
      client.removeGroup(4242);
      client.addProcess(4343, 18);
      await waitFor(() => writes().join('').includes('p 4343'), 10_000, 'the second registration');
      assert.deepEqual(writes(), ['g 4242 4242 17\n', 'G 4242\np 4343 18\n'], 'the forget went with the registration, in one write');
      const before = Date.now();
      client.removeProcess(4343);
      await waitFor(() => writes().join('').includes('P 4343'), 10_000, 'the forget on its own');
      assert.ok(Date.now() - before >= 900, `held back ${Date.now() - before} ms`);
      client.removeGroup(4444);
      client.close();
      await waitFor(() => writes().join('').includes('G 4444'), 10_000, 'the forget written at close');
    } finally {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
