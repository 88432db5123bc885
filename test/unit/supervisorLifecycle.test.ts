import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { SupervisorRegistry } from '../../src/core/host/registry';
import { sameProcess } from '../../src/core/os/identity';
import { readStat } from '../../src/core/os/procfs';
import type { ProcessSnapshot } from '../../src/core/types';
import { cleanUpAll, isRunning, makeService, ROOT, tempDir, waitFor } from './helpers';

interface HostReport {
  supervisor: number;
  daemon: ProcessSnapshot;
  worker: ProcessSnapshot;
  pids: number[];
  /** With `escapee`: the setsid child of a launch that exited at once, found by its mark. */
  escapee?: number;
}

/** What a failed test may leave: pids with their start stamps, so a reused pid is never hit. */
const leftovers: { pid: number; startTime: number | undefined }[] = [];
after(async () => {
  for (const { pid, startTime } of leftovers) {
    if (!sameProcess(readStat(pid), startTime)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  await cleanUpAll();
});

async function startHost(registryFile: string, mode: 'wait' | 'detach', graceMs: number, extra = ''): Promise<{ host: ChildProcess; exited: Promise<unknown>; report: HostReport }> {
  const host = spawn(process.execPath, [resolve(ROOT, 'out/test/fixtures/fakeHost.js'), registryFile, mode, String(graceMs), extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Listened for at once: a host that detaches may be gone before the report is read.
  const exited = once(host, 'exit');
  let text = '';
  host.stdout?.setEncoding('utf8');
  host.stdout?.on('data', (chunk: string) => (text += chunk));
  const report = await waitFor(() => (text.includes('\n') ? (JSON.parse(text.split('\n')[0]) as HostReport) : undefined), 20_000, 'the host to report');
  for (const pid of [...report.pids, report.supervisor, ...(report.escapee ? [report.escapee] : [])]) leftovers.push({ pid, startTime: readStat(pid)?.startTime });
  if (extra === 'escapee') assert.ok(report.escapee && isRunning(report.escapee), `the escapee was found: ${report.escapee}`);
  assert.equal(report.pids.length, 4, `expected 4 live processes, got ${JSON.stringify(report.pids)}`);
  return { host, exited, report };
}

const registryFile = () => join(tempDir(), 'supervisors.json');

describe('the supervisor outlives its host', () => {
  it('a host that goes away (deactivate) leaves its non-daemons to the next host, which re-adopts them whole', async () => {
    const file = registryFile();
    const { exited, report } = await startHost(file, 'detach', 10_000);
    await exited;
    // Reaped by the supervisor, not only dead: a zombie is not running, but its exit may not be in the supervisor's state yet.
    await waitFor(() => readStat(report.daemon.pid as number) === undefined, 5000, 'the daemon to be terminated and reaped');
    assert.ok(isRunning(report.worker.pid as number), 'the non-daemon keeps running');
    const { service, logger } = makeService({}, { registry: new SupervisorRegistry(file) });
    const began = Date.now();
    const adopted = await service.adopt();
    const took = Date.now() - began;
    assert.equal(adopted, 1);
    assert.ok(took < 1000, `re-adoption took ${took} ms`);
    assert.equal(service.supervisorPid, report.supervisor);
    const worker = service.get(report.worker.id);
    assert.equal(worker?.name, 'worker');
    assert.equal(worker?.pid, report.worker.pid);
    assert.equal(worker?.alive, true);
    assert.equal(service.get(report.daemon.id)?.alive, false);
    assert.equal(service.get(report.daemon.id)?.exitCode, -15);
    assert.equal(service.processes().filter((p) => p.parentId === report.worker.id && p.alive).length, 2, 'its children came back too');
    assert.equal(service.output(report.worker.id), 'before\n');
    assert.ok(logger.lines().some((l) => /^\[INFO\/MainProcess\] re-adopted 1 process \(\d+ with their descendants\) from supervisor pid \d+$/.test(l)), logger.lines().join('\n'));
    assert.ok(logger.lines().includes('[INFO/MainProcess] calling terminate() for daemon daemon'), 'the records from before are shown again');
    const next = await service.start({ command: 'true' });
    assert.equal(next.id, `p${Math.max(...service.processes().map((p) => Number(p.id.slice(1))))}`);
    assert.equal(next.name, 'Process-3', 'numbering goes on');
    const ended = await service.terminate(report.worker.id);
    assert.equal(ended.exitCode, -15);
    for (const pid of report.pids) await waitFor(() => !isRunning(pid), 5000, `pid ${pid} to be gone`);
  });

  it('a host SIGKILLed that never comes back: nothing survives the grace period and the exit rules, a setsid escapee neither', async () => {
    const { host, report } = await startHost(registryFile(), 'wait', 1000, 'escapee');
    const killedAt = Date.now();
    host.kill('SIGKILL');
    await waitFor(() => !isRunning(report.daemon.pid as number), 3000, 'the daemon to be terminated at once');
    assert.ok(isRunning(report.worker.pid as number), 'the non-daemon waits out the grace period');
    await waitFor(() => [...report.pids, report.escapee as number].every((pid) => !isRunning(pid)), 1000 + 4000, `every pid of ${JSON.stringify(report)} to be gone`);
    await waitFor(() => !isRunning(report.supervisor), 3000, 'the supervisor to exit');
    assert.ok(Date.now() - killedAt < 1000 + 6000);
  });

  it('a supervisor SIGKILLed: the host ends its processes within a second, says so at ERROR, and the next start works', async () => {
    const { service, logger } = makeService();
    const a = await service.start({ command: 'bash', args: ['-c', 'sleep 300 & sleep 300 & wait'], name: 'tree' });
    const b = await service.start({ command: 'sleep', args: ['300'], daemon: true });
    await waitFor(() => service.processes().filter((p) => p.alive).length >= 4, 10_000, 'the tree');
    const pids = service.processes().filter((p) => p.alive).map((p) => p.pid as number);
    const supervisor = service.supervisorPid as number;
    const killedAt = Date.now();
    process.kill(supervisor, 'SIGKILL');
    await waitFor(() => pids.every((pid) => !isRunning(pid)), 2500, 'every process to be gone');
    assert.ok(Date.now() - killedAt < 2500);
    await waitFor(() => logger.lines().some((l) => l.startsWith(`[ERROR/MainProcess] the supervisor process (pid ${supervisor}) ended unexpectedly`)), 2000, 'the ERROR record');
    await waitFor(() => service.get(a.id)?.alive === false && service.get(b.id)?.alive === false, 2000, 'the rows to show them ended');
    const next = await service.start({ command: 'sh', args: ['-c', 'echo again'] });
    assert.notEqual(service.supervisorPid, supervisor);
    await service.join(next.id);
    assert.equal(service.output(next.id), 'again\n');
    assert.ok(service.get(a.id), 'the rows from before are still listed');
    assert.ok(Number(next.id.slice(1)) > Number(b.id.slice(1)), 'ids go on');
  });

  it('host and supervisor SIGKILLed one after the other: the watchdog ends what they had, a setsid escapee too', async () => {
    const { host, report } = await startHost(registryFile(), 'wait', 30_000, 'escapee');
    host.kill('SIGKILL');
    await waitFor(() => !isRunning(report.daemon.pid as number), 3000, 'the daemon to be terminated');
    process.kill(report.supervisor, 'SIGKILL');
    await waitFor(() => [...report.pids, report.escapee as number].every((pid) => !isRunning(pid)), 3000, `every pid of ${JSON.stringify(report)} to be gone`);
  });
});
