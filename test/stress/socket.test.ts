// The supervisor socket under attack, against a real supervisor process: bad hellos, garbage, a 100 MB line, floods,
// silent and many clients; the good client (the host) is unaffected. And the private directories: 0700, closed to a
// second uid.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SupervisorClient } from '../../src/core/host/supervisorClient';
import { spawnSupervisor, type SupervisorRecord } from '../../src/core/host/spawnSupervisor';
import type { ProcessEvent } from '../../src/core/model/events';
import type { ProcessSnapshot } from '../../src/core/types';
import { cleanUpAll, HELPER_DIR, SUPERVISOR_SCRIPT, tempDir, testSettings, waitFor } from '../unit/helpers';
import { environValue, fdCount, isGone, mb, MB, recordFigures, signal, statusBytes } from './stress';

const work = tempDir('procscope-stress-socket-');
const figures: Record<string, unknown> = {};
const started: { record: SupervisorRecord; client: SupervisorClient }[] = [];

after(async () => {
  recordFigures('socket', figures);
  for (const { record, client } of started) {
    await Promise.race([client.request('stopAll').catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 3000))]);
    await client.request('detach').catch(() => undefined);
    client.dispose();
    // Detached with nothing to watch, it exits by itself within a second; if not, it is ended by its pid.
    await waitFor(() => isGone(record.pid), 5000, 'the supervisor to exit').catch(() => signal(record.pid, 'SIGKILL'));
  }
  await cleanUpAll(); // the temporary directories
});

/** A real supervisor process with a host attached: the good client. */
async function supervisor() {
  const { client, record } = await spawnSupervisor({ script: SUPERVISOR_SCRIPT, helperDir: HELPER_DIR });
  const events: ProcessEvent[] = [];
  client.open({ event: (e) => events.push(e), output: () => undefined });
  const entry = { record, client };
  started.push(entry);
  await client.request('configure', { settings: testSettings(), baseEnv: process.env });
  return { client, record, events, entry };
}

interface RawResult {
  received: string;
  /** The server closed the connection (or reset it). */
  closed: boolean;
  closedAfterMs: number;
}

/** A raw connection: writes `data` (may be undefined: a silent client), collects what comes back until close or `holdMs`. */
function raw(path: string, data: string | Buffer | undefined, holdMs = 5000): Promise<RawResult> {
  return new Promise((resolve) => {
    const at = Date.now();
    const socket = net.connect(path);
    let received = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, closed, closedAfterMs: Date.now() - at });
    };
    socket.on('connect', () => {
      if (data !== undefined) socket.write(data, () => undefined);
    });
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('end', () => finish(true));
    const timer = setTimeout(() => finish(false), holdMs);
  });
}

/** What each fd of `pid` points at. */
function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return `${fd}->${readlinkSync(`/proc/${pid}/fd/${fd}`)}`;
    } catch {
      return `${fd}->?`;
    }
  });
}

const refused = (reason: string) => `{"t":"refused","reason":"${reason}"}\n`;
const hello = (token: unknown) => `${JSON.stringify({ t: 'hello', token, v: 1, hostPid: process.pid })}\n`;

/** The good client keeps working: pings answered in order, latencies recorded. */
function pinger(client: SupervisorClient) {
  const latencies: number[] = [];
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = performance.now();
      try {
        assert.equal(await client.request('ping'), 'pong');
        latencies.push(performance.now() - at);
      } catch {
        failures++;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const sorted = [...latencies].sort((a, b) => a - b);
      const pct = (p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 10) / 10;
      return { pings: latencies.length, failures, p50Ms: pct(50), p99Ms: pct(99), maxMs: pct(100) };
    },
  };
}

/** Starts a process through the raw client and waits until its row ends; returns its exit code. */
async function startAndWait(client: SupervisorClient, events: ProcessEvent[], spec: object): Promise<number | null> {
  const snapshot = await client.request<ProcessSnapshot>('start', { request: { spec, cwd: work } });
  const exited = await waitFor(() => events.find((e) => e.type === 'exited' && e.id === snapshot.id), 15_000, `${snapshot.name} to exit`);
  return (exited as Extract<ProcessEvent, { type: 'exited' }>).exitCode;
}

describe('the supervisor socket under attack (a real supervisor process)', () => {
  it('bad hellos, garbage, a 100 MB line, floods, silent and many clients: all dropped, memory bounded, the host unaffected', async () => {
    const { client, record, events } = await supervisor();
    const pid = record.pid;
    const token = record.token;
    // One process first: the fds a first launch opens for good (e.g. the output directory's handles) are in the baseline.
    assert.equal(await startAndWait(client, events, { command: 'sh', args: ['-c', 'exit 0'] }), 0);
    await waitFor(() => events.some((e) => e.type === 'settled'), 10_000, 'settled');
    const fdsBefore = fdCount(pid);
    const fdTargetsBefore = fdTargets(pid);
    const rssBefore = statusBytes(pid, 'VmRSS') as number;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, statusBytes(pid, 'VmRSS') ?? 0)), 20);
    const ping = pinger(client);
    const forged = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');

    const single: [string, string | Buffer, string][] = [
      ['missing token', `${JSON.stringify({ t: 'hello', v: 1, hostPid: process.pid })}\n`, 'hello'],
      ['empty token', hello(''), 'hello'],
      ['token not a string', hello(12345), 'hello'],
      ['wrong token', hello('b'.repeat(token.length)), 'token'],
      ['forged token (one character off)', hello(forged), 'token'],
      ['token prefix', hello(token.slice(0, 8)), 'token'],
      ['token with a suffix', hello(`${token}x`), 'token'],
      ['overlong token field', hello('t'.repeat(300)), 'hello'],
      ['right token, wrong protocol version', `${JSON.stringify({ t: 'hello', token, v: 999, hostPid: process.pid })}\n`, 'version'],
      ['right token, but a host is attached', hello(token), 'busy'],
      ['a request before any hello', `${JSON.stringify({ t: 'req', rid: 1, op: 'stopAll' })}\n`, 'hello'],
      ['truncated JSON', '{"t":"hello","token":"ab\n', 'hello'],
      ['a JSON array', '[1,2,3]\n', 'hello'],
      ['random bytes with newlines', Buffer.concat([randomBytes(4096), Buffer.from('\n')]), 'hello'],
      ['a line just over the 4096-byte hello cap', `${'x'.repeat(5000)}\n`, 'hello'],
    ];
    const outcomes: Record<string, string> = {};
    for (const [what, data, reason] of single) {
      const result = await raw(record.socket, data);
      assert.ok(result.received.startsWith(refused(reason)), `${what}: expected refused ${reason}, got ${JSON.stringify(result.received.slice(0, 80))}`);
      assert.ok(result.closed, `${what}: the connection was not dropped`);
      assert.ok(!result.received.includes('"welcome"'), `${what}: welcomed`);
      outcomes[what] = reason;
    }

    // A truncated hello that never ends, and a client that connects and never speaks: dropped at the hello timeout.
    const silent = await Promise.all([raw(record.socket, '{"t":"hello","tok', 8000), ...Array.from({ length: 20 }, () => raw(record.socket, undefined, 8000))]);
    for (const s of silent) {
      assert.ok(s.closed, 'a silent client is dropped');
      assert.ok(s.received.startsWith(refused('hello')));
    }
    const silentDropMs = Math.max(...silent.map((s) => s.closedAfterMs));

    // A 100 MB line (no newline): refused at 4 KiB, the rest read and thrown away.
    const hundred = await raw(record.socket, Buffer.alloc(100 * MB, 0x61), 30_000);
    assert.ok(hundred.received.startsWith(refused('hello')), '100 MB line refused');
    assert.ok(hundred.closed, '100 MB line: dropped');

    // Many messages: one client sends 100 000 junk lines at once.
    const junk = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i % 2 ? '{"t":"req","rid":1,"op":"stopAll"}' : 'not json')).join('\n') + '\n');
    const flood = await raw(record.socket, junk, 10_000);
    assert.ok(flood.received.startsWith(refused('hello')));
    assert.equal(flood.received, refused('hello'), 'one refusal, nothing run');

    // Many clients at once, and many connections per second: 300 concurrent wrong-token hellos.
    const burstAt = Date.now();
    const burst = await Promise.all(Array.from({ length: 300 }, (_, i) => raw(record.socket, i % 3 === 0 ? randomBytes(256) : hello(randomBytes(24).toString('hex')), 15_000)));
    const burstMs = Date.now() - burstAt;
    assert.equal(burst.filter((b) => b.closed).length, 300, 'every bad client dropped');
    assert.equal(burst.filter((b) => b.received.includes('"welcome"')).length, 0, 'no bad client welcomed');

    // Meanwhile the host was served, and still runs processes.
    assert.equal(await startAndWait(client, events, { command: 'sh', args: ['-c', 'exit 5'] }), 5);
    const pings = await ping.stop();
    clearInterval(sampler);
    assert.equal(pings.failures, 0, 'the host lost no request');
    assert.ok(pings.pings > 10, 'the host was answered throughout');
    assert.ok(!client.closed, 'the host is still attached');
    assert.ok(!isGone(pid), 'the supervisor survived');
    assert.equal(existsSync(record.socket), true);
    await waitFor(() => fdCount(pid) <= fdsBefore, 10_000, `supervisor fds back to ${fdsBefore} (now ${fdCount(pid)}: new ${fdTargets(pid).filter((f) => !fdTargetsBefore.includes(f)).join(', ')})`);
    const rssAfter = statusBytes(pid, 'VmRSS') as number;
    const log = readFileSync(join(record.dir, 'supervisor.log'), 'utf8');
    assert.match(log, /refused a connection \(token\): wrong token/);
    assert.match(log, /refused a connection \(hello\): no hello within 2000 ms/);
    assert.match(log, /refused a connection \(hello\): line too long/);
    assert.doesNotMatch(log, /uncaught|unhandled rejection/);
    figures.unauthenticated = {
      cases: outcomes, silentClients: silent.length, silentDroppedWithinMs: silentDropMs, hundredMbLineDroppedAfterMs: hundred.closedAfterMs,
      floodLines: 100_000, concurrentBadClients: 300, concurrentBadClientsMs: burstMs,
      supervisorFds: [fdsBefore, fdCount(pid)],
      supervisorRssMB: { before: mb(rssBefore), peak: mb(rssPeak), after: mb(rssAfter) },
      hostPings: pings,
    };
    assert.ok(rssPeak - rssBefore < 64 * MB, `supervisor RSS grew ${mb(rssPeak - rssBefore)} MB under attack`);
    assert.ok(pings.maxMs < 2000, `a host request waited ${pings.maxMs} ms`);
  });

  it('an authenticated connection that floods garbage: bad requests dropped, good ones answered; a 100 MB line drops it', async () => {
    const { client, record, entry } = await supervisor();
    // Let our host go, so the raw connection below can be the host.
    await client.request('detach');
    client.close();
    // Keep the supervisor busy (it exits when nothing is left to watch and no host is attached).
    const pid = record.pid;
    const rssBefore = statusBytes(pid, 'VmRSS') as number;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, statusBytes(pid, 'VmRSS') ?? 0)), 20);
    const socket = net.connect(record.socket);
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => (closed = true));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(hello(record.token));
    await waitFor(() => received.includes('"welcome"'), 5000, 'welcome');
    // Keep a process alive so the supervisor stays when this host is dropped.
    socket.write(`${JSON.stringify({ t: 'req', rid: 1, op: 'start', request: { spec: { command: 'sleep', args: ['120'], name: 'keeper' }, cwd: work } })}\n`);
    await waitFor(() => received.includes('"rid":1,"ok":true'), 10_000, 'the keeper started');
    const BAD = ['not json', '{"t":"req"}', '{"t":"req","rid":"x","op":"ping"}', '{"t":"req","rid":5,"op":"format-disk"}', '{"t":"nope"}', '[]', '"str"', '{"t":"req","rid":6,"op":"terminate","id":"x","signal":"SIGSTOP"}'];
    const lines: string[] = [];
    let pings = 0;
    for (let i = 0; i < 20_000; i++) {
      if (i % 100 === 0) {
        lines.push(JSON.stringify({ t: 'req', rid: 1000 + pings, op: 'ping' }));
        pings++;
      } else lines.push(BAD[i % BAD.length]);
    }
    socket.write(`${lines.join('\n')}\n`);
    await waitFor(() => (received.match(/"value":"pong"/g) ?? []).length === pings, 20_000, `${pings} pongs`);
    assert.ok(!closed, 'bad requests do not drop the host');
    // A request with a bad argument gets an error reply naming it.
    assert.match(received, /"rid":6,"ok":false,"error":"terminate: unknown signal \\"SIGSTOP\\" \(string\)"/);
    // A line longer than the 64 MiB cap drops even an authenticated host.
    socket.write(Buffer.alloc(100 * MB, 0x62));
    await waitFor(() => closed, 30_000, 'the overlong host dropped');
    clearInterval(sampler);
    assert.ok(!isGone(pid), 'the supervisor survived');
    // A good host can attach afterwards and finds the keeper.
    const again = await SupervisorClient.connect(record.socket, record.token);
    assert.ok('client' in again, `a good host is refused: ${JSON.stringify(again)}`);
    assert.equal(again.welcome.adopted, 1);
    entry.client = again.client; // the one the cleanup stops and detaches
    again.client.open({ event: () => undefined, output: () => undefined });
    const rssAfter = statusBytes(pid, 'VmRSS') as number;
    figures.authenticatedFlood = {
      badRequests: 20_000 - pings, pings, supervisorRssMB: { before: mb(rssBefore), peak: mb(rssPeak), after: mb(rssAfter) }, maxLineBytes: 64 * MB,
    };
    // The reader keeps at most the 64 MiB cap of an unfinished line before it drops the connection.
    assert.ok(rssPeak - rssBefore < 160 * MB, `supervisor RSS grew ${mb(rssPeak - rssBefore)} MB`);
    socket.destroy();
  });

  it('the private directories are 0700, and a second uid can connect to neither socket', async (t) => {
    const { client, record, events } = await supervisor();
    const mode = (path: string) => statSync(path).mode & 0o777;
    assert.equal(mode(record.dir), 0o700, 'supervisor directory');
    assert.equal(mode(join(record.dir, 'out')), 0o700, 'output directory');
    // The instrumentation socket: a Python launch carries its path.
    const py = await client.request<ProcessSnapshot>('start', { request: { spec: { command: 'python3', args: ['-c', 'import time; time.sleep(120)'], instrument: 'python', name: 'py' }, cwd: work } });
    const instrumentSocket = await waitFor(() => environValue(py.pid as number, 'PROCSCOPE_SOCKET'), 10_000, 'PROCSCOPE_SOCKET');
    assert.equal(mode(dirname(instrumentSocket)), 0o700, 'instrumentation directory');
    figures.directories = { supervisor: '0700', output: '0700', instrumentation: '0700' };

    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync);
    if (!setpriv) {
      figures.secondUid = 'skipped: no setpriv';
      t.skip('setpriv not available');
    } else if (process.getuid?.() !== 0) {
      figures.secondUid = 'skipped: not root';
      t.skip('needs root to switch to uid 65534');
    } else {
      // A control: a socket anyone may reach, so a refusal below is the directory's doing, not setpriv's.
      const open = join(tempDir('procscope-stress-open-'), 'open.sock');
      chmodSync(dirname(open), 0o777);
      const server = net.createServer((s) => s.end());
      await new Promise<void>((resolve) => server.listen(open, resolve));
      chmodSync(open, 0o777);
      const asNobody = (path: string) => new Promise<string>((resolve) => {
        const code = 'const s=require("net").connect(process.argv[1]);s.on("connect",()=>{console.log("connected");s.destroy()});s.on("error",(e)=>console.log(e.code))';
        execFile(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', code, path], { cwd: '/', timeout: 10_000 }, (error, stdout, stderr) =>
          resolve(stdout.trim() || `${error?.message ?? ''} ${stderr}`.trim()));
      });
      const control = await asNobody(open);
      server.close();
      assert.equal(control, 'connected', 'uid 65534 can connect to an open socket (control)');
      const supervisorSocket = await asNobody(record.socket);
      const instrumentation = await asNobody(instrumentSocket);
      assert.equal(supervisorSocket, 'EACCES', 'uid 65534 reaches the supervisor socket');
      assert.equal(instrumentation, 'EACCES', 'uid 65534 reaches the instrumentation socket');
      figures.secondUid = { uid: 65534, control, supervisorSocket, instrumentationSocket: instrumentation };
    }
    await client.request('terminate', { id: py.id, signal: 'SIGKILL' });
    await waitFor(() => events.some((e) => e.type === 'exited' && e.id === py.id), 10_000, 'python ended');
  });
});

