// Load: 200 processes at once, then 1000 one after another, with fds, memory, table entries, listeners and the test
// process's event-loop lag measured before and after (written to test-artifacts/stress.json).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ProcessService } from '../../src/core/host/processService';
import { cleanUpAll, makeService, tempDir, waitFor } from '../unit/helpers';
import { childrenOf, collectGarbage, fdCount, mb, MB, ownerOf, processesMarkedBy, recordFigures, statusBytes, supervisorRecord } from './stress';

after(cleanUpAll);

const work = tempDir('procscope-stress-load-');
const figures: Record<string, unknown> = {};
/** Processes run before the baseline is taken, and the supervisor's allowed RSS growth over the 1000 measured after it. */
const WARM_UP = 1500;
const SUPERVISOR_GROWTH_MB = 24;

/** Listeners on the service's emitters (private fields, read for the leak check only). */
function listenerCounts(service: ProcessService): Record<string, number> {
  const size = (emitter: unknown) => (emitter as { listeners: Set<unknown> }).listeners.size;
  const state = service.state as unknown as { changeEmitter: unknown; applyEmitter: unknown };
  return {
    stateChange: size(state.changeEmitter),
    stateApply: size(state.applyEmitter),
    output: size((service as unknown as { outputEmitter: unknown }).outputEmitter),
  };
}

/** The output files the supervisor keeps on disk. */
function outputFiles(service: ProcessService): number {
  try {
    return readdirSync(join(supervisorRecord(service).dir, 'out')).length;
  } catch {
    return 0;
  }
}

describe('load', () => {
  it('200 processes started concurrently are all tracked and reaped with the right exit codes', async () => {
    const { service } = makeService({ killTimeoutMs: 1000 }, { defaultCwd: () => work });
    const owner = await probeOwner(service);
    const N = 200;
    const started = Date.now();
    const snapshots = await Promise.all(Array.from({ length: N }, (_, i) => service.start({ command: 'sh', args: ['-c', `exit ${i % 7}`], name: `burst-${i}` })));
    const startMs = Date.now() - started;
    assert.equal(new Set(snapshots.map((s) => s.id)).size, N, 'distinct ids');
    assert.equal(new Set(snapshots.map((s) => s.pid)).size, N, 'distinct pids');
    const joined = await Promise.all(snapshots.map((s) => service.join(s.id, 60_000)));
    const totalMs = Date.now() - started;
    joined.forEach((s, i) => {
      assert.equal(s.alive, false, `${s.name} still alive`);
      assert.equal(s.exitCode, i % 7, `${s.name} exit code`);
      assert.equal(s.status, i % 7 === 0 ? 'stopped' : `stopped[${i % 7}]`);
    });
    assert.equal(service.processes().filter((p) => p.kind === 'launched' && p.name.startsWith('burst-')).length, N, 'every start is a row');
    const supervisorPid = service.supervisorPid as number;
    // Reaped: nothing left under the supervisor but its watchdog.
    await waitFor(() => childrenOf(supervisorPid).length <= 1, 10_000, `the supervisor's children reaped (${childrenOf(supervisorPid).length} left)`);
    assert.deepEqual(processesMarkedBy(owner), []);
    figures.concurrent200 = { processes: N, startAllMs: startMs, startAndJoinAllMs: totalMs };
  });

  it('1000 started and joined in sequence leak nothing: fds, memory, table entries, listeners; event-loop lag p99 ≤ 50 ms', async () => {
    const { service } = makeService({ killTimeoutMs: 1000 }, { defaultCwd: () => work });
    const run = async (i: number) => {
      const p = await service.start({ command: 'sh', args: ['-c', 'echo "run $1"; exit $(($1 % 3))', 'sh', String(i)] });
      const joined = await service.join(p.id, 30_000);
      assert.equal(joined.exitCode, i % 3);
      if (i % 100 === 0) assert.equal(service.output(p.id), `run ${i}\n`);
    };
    const owner = await probeOwner(service);
    // Warm up past the supervisor's bounded record history (2000 records kept for a re-adopting host, two a process),
    // its JIT and its heap sizing; then clear and take the baseline.
    for (let i = 0; i < WARM_UP; i++) await run(i);
    await service.clearExited();
    const supervisorPid = service.supervisorPid as number;
    collectGarbage();
    await waitFor(() => childrenOf(supervisorPid).length <= 1, 10_000, 'warm-up reaped');
    const before = {
      testFds: fdCount('self'), supervisorFds: fdCount(supervisorPid),
      testRss: process.memoryUsage().rss, testHeap: process.memoryUsage().heapUsed, supervisorRss: statusBytes(supervisorPid, 'VmRSS') as number,
      rows: service.processes().length, listeners: listenerCounts(service), outputFiles: outputFiles(service),
    };
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const N = 1000;
    const started = Date.now();
    const samples: { after: number; supervisorRssMB: number | null; testHeapMB: number | null }[] = [];
    for (let i = 0; i < N; i++) {
      await run(i);
      if ((i + 1) % 250 === 0) {
        collectGarbage();
        samples.push({ after: i + 1, supervisorRssMB: mb(statusBytes(supervisorPid, 'VmRSS')), testHeapMB: mb(process.memoryUsage().heapUsed) });
      }
    }
    const elapsed = Date.now() - started;
    lag.disable();
    assert.equal(service.processes().length, N);
    // What the 1000 ended rows still listed cost (issue #13: it was 16–22 KB of RSS each, output rings and handles kept).
    const listed = samples[samples.length - 1];
    const keptKB = { supervisorRss: ((listed.supervisorRssMB as number) - (mb(before.supervisorRss) as number)) * 1000 / N, testHeap: ((listed.testHeapMB as number) - (mb(before.testHeap) as number)) * 1000 / N };
    const cleared = await service.clearExited();
    assert.equal(cleared.length, N);
    await waitFor(() => childrenOf(supervisorPid).length <= 1, 10_000, 'all reaped');
    collectGarbage();
    // Descriptors are closed asynchronously after the last exit: give them a moment to settle.
    await waitFor(() => fdCount(supervisorPid) <= before.supervisorFds && fdCount('self') <= before.testFds, 5000, 'fds back to the baseline').catch(() => undefined);
    const afterFigures = {
      testFds: fdCount('self'), supervisorFds: fdCount(supervisorPid),
      testRss: process.memoryUsage().rss, testHeap: process.memoryUsage().heapUsed, supervisorRss: statusBytes(supervisorPid, 'VmRSS') as number,
      rows: service.processes().length, listeners: listenerCounts(service), outputFiles: outputFiles(service),
    };
    const p99 = lag.percentile(99) / 1e6;
    figures.sequential1000 = {
      processes: N, elapsedMs: elapsed, perProcessMs: Math.round((elapsed / N) * 100) / 100,
      eventLoopLagMs: { p50: lag.percentile(50) / 1e6, p99, max: lag.max / 1e6 },
      fds: { test: [before.testFds, afterFigures.testFds], supervisor: [before.supervisorFds, afterFigures.supervisorFds] },
      rssMB: {
        test: [mb(before.testRss), mb(afterFigures.testRss)], testHeap: [mb(before.testHeap), mb(afterFigures.testHeap)],
        supervisor: [mb(before.supervisorRss), mb(afterFigures.supervisorRss)],
      },
      rows: [before.rows, afterFigures.rows], listeners: [before.listeners, afterFigures.listeners], outputFiles: [before.outputFiles, afterFigures.outputFiles],
      samples, keptPerEndedRowKB: { supervisorRss: Math.round(keptKB.supervisorRss * 10) / 10, testHeap: Math.round(keptKB.testHeap * 10) / 10 },
      bounds: { keptPerEndedRowKB: { supervisorRss: 16, testHeap: 4 }, fdsGrowth: 0, testRssGrowthMB: 40, testHeapGrowthMB: 8, supervisorRssGrowthMB: SUPERVISOR_GROWTH_MB, warmUp: WARM_UP, lagP99Ms: 50 },
    };
    assert.ok(afterFigures.testFds <= before.testFds, `test process fds ${before.testFds} → ${afterFigures.testFds}`);
    assert.ok(afterFigures.supervisorFds <= before.supervisorFds, `supervisor fds ${before.supervisorFds} → ${afterFigures.supervisorFds}`);
    assert.equal(afterFigures.rows, 0, 'no table entries after clearExited');
    assert.equal(afterFigures.outputFiles, before.outputFiles, 'no output files left for cleared rows');
    assert.deepEqual(afterFigures.listeners, before.listeners, 'no listener added per process');
    assert.ok(afterFigures.testRss - before.testRss < 40 * MB, `test process RSS grew ${mb(afterFigures.testRss - before.testRss)} MB`);
    assert.ok(afterFigures.supervisorRss - before.supervisorRss < SUPERVISOR_GROWTH_MB * MB, `supervisor RSS grew ${mb(afterFigures.supervisorRss - before.supervisorRss)} MB`);
    assert.ok(afterFigures.testHeap - before.testHeap < 8 * MB, `test process heap grew ${mb(afterFigures.testHeap - before.testHeap)} MB`);
    assert.ok(p99 <= 50, `event-loop lag p99 ${p99} ms`);
    assert.ok(keptKB.supervisorRss < 16, `an ended row still listed keeps ${keptKB.supervisorRss} KB of the supervisor's RSS`);
    assert.ok(keptKB.testHeap < 4, `an ended row still listed keeps ${keptKB.testHeap} KB of the host's heap`);
    assert.deepEqual(processesMarkedBy(owner), []);
  });

  after(() => recordFigures('load', figures));
});

/** The supervisor's mark, from a probe process (every launched process carries `OWNER/ID`); the probe is then killed. */
async function probeOwner(service: ProcessService): Promise<string> {
  const probe = await service.start({ command: 'sleep', args: ['60'], name: 'mark-probe' });
  const owner = ownerOf(probe.pid as number);
  await service.kill(probe.id);
  await service.join(probe.id);
  return owner;
}
