import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_LINE_BYTES } from '../../src/core/instrument';
import { waitFor } from './helpers';
import { line, rawClient, recordingServer, type Recorded } from './instrumentHarness';
import type { InstrumentServer } from '../../src/core/instrument';

const unix = process.platform !== 'win32';

const start = (pid: number, ppid: number, name = 'Process-1') =>
  line({ t: 'start', pid, ppid, name, daemon: false, method: 'fork', time: 1700000000000.5 });

/**
 * How long a raw client that the server should close keeps its side open. rawClient resolves as soon as the server
 * closes it, so this only bounds a failure: generous, so a loaded machine is not mistaken for a server that never closed.
 */
const CLOSE_WITHIN_MS = 15_000;

describe('InstrumentServer', { skip: !unix && 'unix sockets' }, () => {
  let server: InstrumentServer;
  let recorded: Recorded;
  let socket: string;
  let token: string;

  before(() => {
    // A hello timeout a loaded machine cannot trip between accepting a client and reading its hello; the test of the
    // timeout itself has a server of its own.
    // Every refusal is told (rejectionSpellMs 0), so each test sees its own; the rate limit has tests of its own.
    ({ server, recorded } = recordingServer({ level: 10, helloTimeoutMs: 30_000, rejectionSpellMs: 0 }));
    const env = server.register('launch-1');
    socket = env.PROCSCOPE_SOCKET;
    token = env.PROCSCOPE_TOKEN;
  });
  after(() => server.dispose());

  const hello = (pid = 100) => line({ t: 'hello', token, pid, v: 1 });
  const reset = () => {
    recorded.starts.length = 0;
    recorded.exits.length = 0;
    recorded.logs.length = 0;
    recorded.warnings.length = 0;
  };

  /** A well-behaved client's start, sent after a misbehaving one, still comes through. */
  async function assertStillServing(pid: number): Promise<void> {
    await rawClient(socket, hello(pid) + start(pid + 1, pid));
    assert.ok(recorded.starts.some((s) => s.pid === pid + 1), `start from pid ${pid} was not delivered`);
  }

  it('lives in a private 0700 directory and hands out a fresh token per launch', () => {
    assert.equal(statSync(dirname(socket)).mode & 0o777, 0o700);
    assert.ok(statSync(socket).isSocket());
    assert.match(token, /^[0-9a-f]{32}$/);
    const other = server.register('launch-2');
    assert.equal(other.PROCSCOPE_SOCKET, socket);
    assert.notEqual(other.PROCSCOPE_TOKEN, token);
    server.unregister('launch-2');
  });

  it('delivers start, exit and log messages with the launch id', async () => {
    reset();
    const messages = [
      hello(200),
      start(201, 200, 'worker 1'),
      line({ t: 'log', pid: 200, level: 20, levelname: 'INFO', process: 'MainProcess', msg: 'process shutting down' }),
      line({ t: 'exit', pid: 201, code: -15 }),
    ];
    await rawClient(socket, messages.join(''));
    assert.deepEqual(recorded.starts, [
      { launchId: 'launch-1', pid: 201, ppid: 200, name: 'worker 1', daemon: false, method: 'fork', time: 1700000000000.5 },
    ]);
    assert.deepEqual(recorded.exits, [{ launchId: 'launch-1', pid: 201, code: -15 }]);
    assert.deepEqual(recorded.logs, [
      { launchId: 'launch-1', pid: 200, level: 20, levelName: 'INFO', processName: 'MainProcess', message: 'process shutting down' },
    ]);
    assert.deepEqual(recorded.warnings, []);
  });

  it('stamps a start that carries no time (as the helper sends them) with the time it was read; a bad time is dropped', async () => {
    reset();
    const before = Date.now();
    await rawClient(socket, hello(210) + line({ t: 'start', pid: 211, ppid: 210, name: 'Process-1', daemon: true, method: 'fork', role: '' })
      + line({ t: 'start', pid: 212, ppid: 210, name: 'Process-2', daemon: false, method: 'fork', time: 'soon' }));
    assert.equal(recorded.starts.length, 1);
    const [stamped] = recorded.starts;
    assert.deepEqual({ ...stamped, time: 0 }, { launchId: 'launch-1', pid: 211, ppid: 210, name: 'Process-1', daemon: true, method: 'fork', time: 0 });
    assert.ok(stamped.time >= before && stamped.time <= Date.now(), `stamped ${stamped.time - before} ms after the send`);
    assert.match(recorded.warnings[0], /start: field "time"/);
  });

  it('reassembles lines split across writes', async () => {
    reset();
    // A launch of its own, so that its open connection is this client's.
    const env = server.register('split');
    const first = line({ t: 'hello', token: env.PROCSCOPE_TOKEN, pid: 300, v: 1 });
    const second = start(301, 300);
    const client = net.connect(env.PROCSCOPE_SOCKET);
    const closed = new Promise((r) => client.on('close', r));
    await new Promise((r) => client.on('connect', r));
    /** Writes `text` 5 bytes at a time, each piece in a write of its own. */
    const inPieces = async (text: string) => {
      for (let i = 0; i < text.length; i += 5) {
        client.write(text.slice(i, i + 5));
        await new Promise((r) => setImmediate(r));
      }
    };
    // The hello and half the start line; the server, having put the hello together, knows the connection.
    const half = Math.floor(second.length / 2);
    await inPieces(first + second.slice(0, half));
    await waitFor(() => server.openConnections('split') === 1, 10_000, 'the server to accept the hello sent in pieces');
    // The rest of the start line comes in later reads: it must be joined to the half already read.
    await inPieces(second.slice(half));
    client.end();
    await waitFor(() => recorded.starts.length >= 1, 10_000, 'the start sent in pieces');
    await closed; // the server read everything up to our end, and closed its side
    server.unregister('split');
    assert.equal(recorded.starts.length, 1);
    assert.equal(recorded.starts[0].pid, 301);
    assert.equal(recorded.starts[0].launchId, 'split');
    assert.deepEqual(recorded.warnings, []);
  });

  it('closes a connection whose first line is not a hello', async () => {
    reset();
    const result = await rawClient(socket, start(401, 400), CLOSE_WITHIN_MS);
    assert.ok(result.closedByServer);
    assert.equal(recorded.starts.length, 0);
    assert.match(recorded.warnings.join('\n'), /first line is not a hello; connection closed/);
    await assertStillServing(410);
  });

  it('closes a connection with a wrong token, without echoing it', async () => {
    reset();
    const result = await rawClient(socket, line({ t: 'hello', token: 'f'.repeat(32), pid: 500, v: 1 }) + start(501, 500), CLOSE_WITHIN_MS);
    assert.ok(result.closedByServer);
    assert.equal(recorded.starts.length, 0);
    assert.match(recorded.warnings.join('\n'), /hello from pid 500 with an unknown token; connection closed/);
    assert.doesNotMatch(recorded.warnings.join('\n'), /ffff/);
    await assertStillServing(510);
  });

  it('closes a connection that never says hello', async () => {
    const { server: impatient, recorded: impatientRecorded } = recordingServer({ helloTimeoutMs: 300 });
    try {
      const env = impatient.register('x');
      const result = await rawClient(env.PROCSCOPE_SOCKET, '', CLOSE_WITHIN_MS);
      assert.ok(result.closedByServer);
      assert.match(impatientRecorded.warnings.join('\n'), /no hello within 300 ms; connection closed/);
    } finally {
      impatient.dispose();
    }
  });

  it('refuses an unsupported protocol version', async () => {
    reset();
    await rawClient(socket, line({ t: 'hello', token, pid: 550, v: 2 }));
    assert.match(recorded.warnings.join('\n'), /unsupported protocol version 2; connection closed/);
  });

  it('drops malformed JSON with a warning and keeps the connection', async () => {
    reset();
    await rawClient(socket, hello(600) + '{"t":"start", nope\n' + start(601, 600));
    assert.equal(recorded.starts.length, 1);
    assert.deepEqual(recorded.warnings, ['instrumentation: launch-1 (pid 600): invalid JSON; line dropped']);
  });

  it('drops messages whose fields have the wrong types', async () => {
    reset();
    const bad = [
      line({ t: 'start', pid: '601', ppid: 600, name: 'x', daemon: false, method: 'fork', time: 1 }),
      line({ t: 'start', pid: 601, ppid: 600, name: 7, daemon: false, method: 'fork', time: 1 }),
      line({ t: 'start', pid: 601, ppid: 600, name: 'x', daemon: 'no', method: 'fork', time: 1 }),
      line({ t: 'start', pid: 601, ppid: 600, name: 'x', daemon: false, method: 'teleport', time: 1 }),
      line({ t: 'start', pid: -1, ppid: 600, name: 'x', daemon: false, method: 'fork', time: 1 }),
      line({ t: 'exit', pid: 601, code: 1.5 }),
      line({ t: 'exit', pid: 601 }),
      line({ t: 'log', pid: 600, level: 'INFO', levelname: 'INFO', process: 'MainProcess', msg: 'x' }),
      line({ t: 'log', pid: 600, level: 20, levelname: 'INFO', process: 'MainProcess', msg: null }),
      '[1,2,3]\n',
      '"just a string"\n',
    ];
    await rawClient(socket, hello(600) + bad.join('') + start(602, 600));
    assert.deepEqual(recorded.starts.map((s) => s.pid), [602]);
    assert.equal(recorded.exits.length, 0);
    assert.equal(recorded.logs.length, 0);
    assert.equal(recorded.warnings.length, bad.length);
    assert.match(recorded.warnings[0], /start: field "pid" is missing or has the wrong type; line dropped/);
    assert.match(recorded.warnings[3], /start: field "method"/);
    assert.match(recorded.warnings[5], /exit: field "code"/);
    assert.match(recorded.warnings[9], /not a JSON object/);
  });

  it('drops an unknown message type, naming it safely', async () => {
    reset();
    await rawClient(socket, hello(700) + line({ t: 'reboot\u001b[31m', pid: 700 }) + start(701, 700));
    assert.equal(recorded.starts.length, 1);
    assert.deepEqual(recorded.warnings, ['instrumentation: launch-1 (pid 700): unknown message type "reboot"; line dropped']);
  });

  it('takes lines about any process of the launch on one connection (children forked by multiprocessing share it)', async () => {
    reset();
    // 750 connected; 751 is its fork child, speaking on the same connection, and 752 the child's own child.
    await rawClient(socket, hello(750) + start(751, 750) +
      line({ t: 'log', pid: 751, level: 20, levelname: 'INFO', process: 'Process-1', msg: 'child process calling self.run()' }) +
      start(752, 751) + line({ t: 'exit', pid: 752, code: 0 }) + line({ t: 'exit', pid: 751, code: 0 }));
    assert.deepEqual(recorded.starts.map((s) => [s.pid, s.ppid]), [[751, 750], [752, 751]]);
    assert.deepEqual(recorded.logs.map((l) => [l.pid, l.processName]), [[751, 'Process-1']]);
    assert.deepEqual(recorded.exits.map((e) => e.pid), [752, 751]);
    assert.deepEqual(recorded.warnings, []);
  });

  it('closes a connection sending a line over the cap, also one never finished', async () => {
    reset();
    const huge = line({ t: 'log', pid: 800, level: 20, levelname: 'INFO', process: 'P', msg: 'x'.repeat(MAX_LINE_BYTES) });
    const result = await rawClient(socket, hello(800) + huge + start(801, 800), CLOSE_WITHIN_MS);
    assert.ok(result.closedByServer);
    assert.equal(recorded.logs.length, 0);
    assert.equal(recorded.starts.length, 0);
    assert.match(recorded.warnings.join('\n'), /line longer than 65536 bytes; connection closed/);
    reset();
    const endless = await rawClient(socket, hello(810) + 'y'.repeat(MAX_LINE_BYTES + 10), CLOSE_WITHIN_MS);
    assert.ok(endless.closedByServer);
    assert.match(recorded.warnings.join('\n'), /launch-1 \(pid 810\): line longer than 65536 bytes/);
    await assertStillServing(820);
  });

  it('accepts a line of exactly the cap', async () => {
    reset();
    const fields = { t: 'log', pid: 830, level: 20, levelname: 'INFO', process: 'P', msg: '' };
    const padding = MAX_LINE_BYTES - JSON.stringify(fields).length;
    await rawClient(socket, hello(830) + line({ ...fields, msg: 'z'.repeat(padding) }));
    assert.equal(recorded.logs.length, 1);
    assert.equal(recorded.logs[0].message.length, padding);
  });

  it('closes a connection after too many malformed lines', async () => {
    reset();
    const result = await rawClient(socket, hello(850) + 'nope\n'.repeat(50), CLOSE_WITHIN_MS);
    assert.ok(result.closedByServer);
    assert.equal(recorded.warnings.length, 21);
    assert.match(recorded.warnings[20], /more than 20 malformed lines; connection closed/);
  });

  it('sanitises names and messages', async () => {
    reset();
    await rawClient(socket, hello(900) +
      start(901, 900, '\u001b[31mred\u001b[0m\u0007 \u202eworker\n') +
      line({ t: 'log', pid: 900, level: 20, levelname: 'INFO', process: 'Main\u001b]0;title\u0007Process', msg: 'a\tb\u001b[2Jc\r\nd\u0000e\ud800' }));
    assert.equal(recorded.starts[0].name, 'red worker');
    assert.equal(recorded.logs[0].processName, 'MainProcess');
    assert.equal(recorded.logs[0].message, 'a\tbc de\ufffd');
  });

  it('takes the level name from its own table, and filters by level', async () => {
    reset();
    const log = (level: number, levelname: string) =>
      line({ t: 'log', pid: 950, level, levelname, process: 'MainProcess', msg: `at ${level}` });
    await rawClient(socket, hello(950) + log(5, 'SUBDEBUG') + log(10, 'CRITICAL') + log(25, 'SUBWARNING'));
    assert.deepEqual(recorded.logs.map((r) => `${r.levelName} ${r.message}`), ['DEBUG at 10', 'SUBWARNING at 25']);
    server.setLevel(0);
    reset();
    await rawClient(socket, hello(951) + log(50, 'CRITICAL'));
    assert.equal(recorded.logs.length, 0);
    server.setLevel(10);
    assert.throws(() => server.setLevel(-1), /non-negative integer, got -1 \(number\)/);
  });

  it('serves other clients while one floods it with garbage', async () => {
    reset();
    const flood = rawClient(socket, hello(960) + '{'.repeat(MAX_LINE_BYTES - 100) + '\n' + 'x\n'.repeat(10000), 500);
    const good = rawClient(socket, hello(970) + start(971, 970));
    await Promise.all([flood, good]);
    assert.ok(recorded.starts.some((s) => s.pid === 971));
  });

  it('refuses connections over the cap with one warning', async () => {
    const { server: small, recorded: smallRecorded } = recordingServer({ maxConnections: 2 });
    const held: net.Socket[] = [];
    try {
      const env = small.register('x');
      const helloX = line({ t: 'hello', token: env.PROCSCOPE_TOKEN, pid: 1, v: 1 });
      // Two clients that stay: once the server knows both, it is at its cap (whatever the machine's load).
      for (let i = 0; i < 2; i++) {
        const client = net.connect(env.PROCSCOPE_SOCKET, () => client.write(helloX));
        client.on('error', () => undefined);
        held.push(client);
      }
      await waitFor(() => small.openConnections('x') === 2, 10_000, 'the first two clients to be accepted');
      // Two more, while the first two are still open: both refused (rawClient resolves when the server closes them).
      const clients = await Promise.all([0, 1].map(() => rawClient(env.PROCSCOPE_SOCKET, helloX, CLOSE_WITHIN_MS)));
      assert.deepEqual(clients.map((c) => c.closedByServer), [true, true]);
      assert.equal(small.openConnections('x'), 2, 'the first two are kept');
      assert.equal(smallRecorded.warnings.filter((w) => /more than 2 connections: a new one was refused/.test(w)).length, 1);
    } finally {
      for (const client of held) client.destroy();
      small.dispose();
    }
  });

  it('keeps an unregistered launch\'s open connections, and refuses its new ones', async () => {
    reset();
    const env = server.register('short');
    const client = net.connect(env.PROCSCOPE_SOCKET);
    await new Promise((r) => client.on('connect', r));
    client.write(line({ t: 'hello', token: env.PROCSCOPE_TOKEN, pid: 990, v: 1 }));
    await waitFor(() => server.openConnections('short') === 1, 10_000, 'the server to accept the hello');
    server.unregister('short');
    client.write(start(991, 990));
    let settled = false;
    const idle = server.whenIdle('short', 30_000).finally(() => (settled = true));
    // The connection opened before unregister still reports...
    await waitFor(() => recorded.starts.some((s) => s.pid === 991), 10_000, 'the start sent after unregister');
    // ...and still counts as busy (a whenIdle with a short timeout gives up: it looked, and the connection is open).
    assert.equal(await server.whenIdle('short', 100), false);
    assert.equal(settled, false, 'whenIdle resolved while a connection of the launch was open');
    client.end();
    assert.equal(await idle, true);
    assert.deepEqual(recorded.starts.map((s) => `${s.launchId} ${s.pid}`), ['short 991']);
    await rawClient(env.PROCSCOPE_SOCKET, line({ t: 'hello', token: env.PROCSCOPE_TOKEN, pid: 992, v: 1 }) + start(993, 992));
    assert.equal(recorded.starts.length, 1);
    assert.match(recorded.warnings.join('\n'), /unknown token/);
  });

  it('whenIdle gives up after its timeout while a connection stays open', async () => {
    const env = server.register('lingering');
    const client = net.connect(env.PROCSCOPE_SOCKET);
    client.write(line({ t: 'hello', token: env.PROCSCOPE_TOKEN, pid: 995, v: 1 }));
    await waitFor(() => server.openConnections('lingering') === 1, 10_000, 'the server to accept the hello');
    assert.equal(await server.whenIdle('lingering', 100), false);
    client.destroy();
    assert.equal(await server.whenIdle('lingering', 10_000), true);
    server.unregister('lingering');
  });

  it('removes its directory on dispose and refuses to register after', () => {
    const { server: temporary } = recordingServer();
    const env = temporary.register('a');
    assert.ok(existsSync(env.PROCSCOPE_SOCKET));
    temporary.dispose();
    assert.ok(!existsSync(dirname(env.PROCSCOPE_SOCKET)));
    assert.throws(() => temporary.register('b'), /disposed/);
    temporary.dispose();
  });
});
