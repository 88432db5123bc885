import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { FIRST_RESTART_DELAY_MS, MAX_RESTART_DELAY_MS, nextRestart, validatePolicy } from '../../src/core/supervisor/policies';
import { cleanUpAll, isRunning, makeService, waitFor } from './helpers';

after(cleanUpAll);
const { service, logger } = makeService({ killTimeoutMs: 1000 });

/** A TCP port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('readiness probes', () => {
  it('a log line: ready once a line matches the regular expression', async () => {
    const p = await service.start({ command: 'sh', args: ['-c', 'echo starting; sleep 0.3; echo "listening on 8080"; sleep 30'], name: 'lines' }, { policy: { ready: { logLine: 'listening on \\d+' } } });
    assert.equal(p.ready, undefined);
    await waitFor(() => service.get(p.id)?.ready === true, 10_000, 'ready');
    // The supervisor logs the record right after the ready event: it comes next, not necessarily in the same read.
    await waitFor(() => logger.lines().includes('[INFO/lines] ready (log line /listening on \\d+/)'), 10_000, 'the ready record');
    await service.kill(p.id);
  });

  it('a port: ready once something accepts connections on it', async () => {
    const port = await freePort();
    const p = await service.start({ command: 'python3', args: ['-c', `import socket,time; time.sleep(0.5); s=socket.socket(); s.bind(("127.0.0.1",${port})); s.listen(); time.sleep(30)`], name: 'listener' }, { policy: { ready: { port } } });
    await waitFor(() => service.get(p.id)?.ready === true, 15_000, 'ready');
    await waitFor(() => service.get(p.id)?.ports?.includes(port), 10_000, 'the port in the snapshot');
    await service.kill(p.id);
  });

  it('an http URL: ready on a 2xx or 3xx answer, not before', async () => {
    let healthy = false;
    /** Probe requests answered 503 so far. */
    let unhealthyAnswers = 0;
    const asked: number[] = [];
    const server = http.createServer((_req, res) => {
      asked.push(performance.now());
      if (!healthy) unhealthyAnswers++;
      res.statusCode = healthy ? 204 : 503;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const p = await service.start({ command: 'sleep', args: ['30'], name: 'web' }, { policy: { ready: { http: `http://127.0.0.1:${port}/health` } } });
      // The probe asks again only after judging the answer before: a third request means two 503s were judged not ready.
      await waitFor(() => unhealthyAnswers >= 3, 15_000, 'the probe to be answered 503 three times');
      assert.equal(service.get(p.id)?.ready, undefined, 'a 503 is not ready');
      // Every 500 ms (SPEC §4) after the answer before: never sooner (timers do not fire early).
      const gaps = asked.slice(1).map((t, i) => t - asked[i]);
      assert.ok(gaps.every((gap) => gap >= 495), `asked again after ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
      healthy = true;
      await waitFor(() => service.get(p.id)?.ready === true, 10_000, 'ready');
      await service.kill(p.id);
    } finally {
      server.close();
    }
  });

  it('a command: ready once it exits 0; not ready in time is an ERROR and the row says so', async () => {
    const p = await service.start({ command: 'sleep', args: ['30'], name: 'probed' }, { policy: { ready: { command: 'test -e /definitely/not/here', timeoutMs: 1200 } } });
    await waitFor(() => service.get(p.id)?.ready === false, 10_000, 'not ready');
    await waitFor(() => logger.lines().some((l) => l.startsWith('[ERROR/probed] not ready after 1200 ms')), 10_000, 'the not-ready ERROR');
    await service.kill(p.id);
    const q = await service.start({ command: 'sleep', args: ['30'], name: 'probed-ok' }, { policy: { ready: { command: 'true' } } });
    await waitFor(() => service.get(q.id)?.ready === true, 10_000, 'ready');
    await service.kill(q.id);
  });
});

/**
 * Waits until the supervisor has handled the exit of `name` (logged after line `since`), restart policy included: it
 * decides on a restart, and logs "restarting in N ms", while it handles the exit, before it logs "process exiting".
 */
async function policyHasSeenExit(name: string, since: number): Promise<void> {
  await waitFor(() => logger.lines().slice(since).some((l) => l.startsWith(`[INFO/${name}] process exiting with exitcode `)), 10_000,
    `the supervisor to log the exit of ${name}`);
}

/** Restarts the policy scheduled for `name` since line `since`. */
function restartsLogged(name: string, since: number): string[] {
  return logger.lines().slice(since).filter((l) => l.startsWith(`[INFO/${name}] `) && / restarting in \d+ ms /.test(l));
}

describe('restart policies', () => {
  it('on-failure: a process that fails at once is restarted with back-off until the crash-loop breaker trips after 5', async () => {
    const began = Date.now();
    const p = await service.start({ command: 'sh', args: ['-c', 'exit 1'], name: 'flaky' }, { policy: { restart: 'on-failure' } });
    await waitFor(() => logger.lines().includes('[WARNING/flaky] crash loop: restarting flaky stopped after 5 failures in 60 s'), 30_000, 'the breaker');
    const took = Date.now() - began;
    const row = service.get(p.id);
    assert.equal(row?.restarts, 4);
    assert.equal(row?.lastExitCode, 1);
    assert.equal(service.row(p.id)?.phase, 'crash loop');
    // 0.5 + 1 + 2 + 4 s of back-off before the fifth run.
    assert.ok(took >= 7000, `the breaker tripped after ${took} ms: no back-off?`);
    assert.equal(service.processes().filter((s) => s.name === 'flaky').length, 1, 'restarts stay in one row');
  });

  it('on-failure: a clean exit is not restarted', async () => {
    const p = await service.start({ command: 'true', name: 'clean' }, { policy: { restart: 'on-failure' } });
    await service.join(p.id);
    await policyHasSeenExit('clean', 0);
    assert.deepEqual(restartsLogged('clean', 0), [], 'a restart was scheduled');
    assert.equal(service.row(p.id)?.phase, undefined);
    assert.equal(service.get(p.id)?.restarts, 0);
  });

  it('always: a process killed from outside comes back in the same row; a stop by hand never restarts', async () => {
    const p = await service.start({ command: 'sleep', args: ['300'], name: 'ticker' }, { policy: { restart: 'always' } });
    process.kill(p.pid as number, 'SIGKILL');
    const back = await waitFor(() => {
      const now = service.get(p.id);
      return now?.alive && now.pid !== p.pid ? now : undefined;
    }, 10_000, 'the ticker to come back');
    assert.equal(back.id, p.id);
    assert.equal(back.restarts, 1);
    assert.equal(back.lastExitCode, -9);
    const marker = logger.lines().length;
    await service.terminate(p.id);
    await policyHasSeenExit('ticker', marker);
    assert.deepEqual(restartsLogged('ticker', marker), [], 'a restart was scheduled after a stop by hand');
    assert.equal(service.row(p.id)?.phase, undefined);
    assert.equal(service.get(p.id)?.alive, false, 'terminated by hand: not restarted');
    assert.equal(service.get(p.id)?.restarts, 1);
    assert.ok(!isRunning(back.pid as number));
  });

  it('Stop All stops the policies too', async () => {
    const p = await service.start({ command: 'sleep', args: ['300'], name: 'forever' }, { policy: { restart: 'always' } });
    const marker = logger.lines().length;
    await service.stopAll();
    await policyHasSeenExit('forever', marker);
    assert.deepEqual(restartsLogged('forever', marker), [], 'a restart was scheduled after Stop All');
    assert.equal(service.row(p.id)?.phase, undefined);
    assert.equal(service.get(p.id)?.alive, false);
    assert.equal(service.get(p.id)?.restarts, 0);
  });

  it('rejects a bad policy, naming the field and repeating the value', async () => {
    assert.throws(() => validatePolicy({ restart: 'sometimes' }), /`restart` to be one of "no", "on-failure", "always", got "sometimes" \(string\)/);
    assert.throws(() => validatePolicy({ ready: { port: 70000 } }), /`ready.port` to be a TCP port/);
    assert.throws(() => validatePolicy({ ready: { logLine: '(' } }), /`ready.logLine` to be a valid regular expression/);
    assert.throws(() => validatePolicy({ ready: { port: 1, http: 'http://x' } }), /exactly one of/);
    assert.throws(() => validatePolicy({ ready: { http: 'ftp://x' } }), /http:\/\/ or https:\/\//);
    await assert.rejects(service.start({ command: 'true' }, { policy: { restart: 7 } }), /`restart` to be one of/);
  });
});

describe('restart back-off and the crash-loop breaker, as arithmetic', () => {
  /** Failures at the given times, each run having started `upMs` before it; the delays asked for, and the loop. */
  function failuresAt(times: number[], upMs = 100): { delays: number[]; loopAt: number | undefined } {
    let last = { delayMs: FIRST_RESTART_DELAY_MS, failures: [] as number[], runStartedAt: 0 };
    const delays: number[] = [];
    let loopAt: number | undefined;
    for (const now of times) {
      const next = nextRestart({ ...last, runStartedAt: now - upMs }, now);
      if (next.crashLoop && loopAt === undefined) loopAt = now;
      if (!next.crashLoop) delays.push(next.delayMs);
      last = { delayMs: next.nextDelayMs, failures: next.failures, runStartedAt: now };
    }
    return { delays, loopAt };
  }

  it('starts at 500 ms and doubles; the fifth failure within 60 s is a crash loop', () => {
    assert.deepEqual(failuresAt([1_000, 2_000, 4_000, 7_000, 12_000]), { delays: [500, 1000, 2000, 4000], loopAt: 12_000 });
  });

  it('doubles up to 30 s and no further when failures are spread out (no crash loop)', () => {
    const times = Array.from({ length: 10 }, (_, i) => (i + 1) * 25_000);
    assert.deepEqual(failuresAt(times), { delays: [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000], loopAt: undefined });
  });

  it('goes back to 500 ms after a run that stayed up 60 s', () => {
    let last = { delayMs: 16_000, failures: [] as number[], runStartedAt: 0 };
    assert.equal(nextRestart(last, 59_999).delayMs, 16_000);
    last = { ...last, runStartedAt: 0 };
    assert.equal(nextRestart(last, 60_000).delayMs, FIRST_RESTART_DELAY_MS);
    assert.equal(MAX_RESTART_DELAY_MS, 30_000);
  });
});
