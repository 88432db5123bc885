// Bad clients of the instrumentation socket: refusals are told once a spell, so they cannot flush the log, and silent
// clients filling the connection cap never keep out a client with a valid token.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { line, rawClient, recordingServer } from './instrumentHarness';
import { waitFor } from './helpers';

const unix = process.platform !== 'win32';
const start = (pid: number, ppid: number) => line({ t: 'start', pid, ppid, name: 'Process-1', daemon: false, method: 'fork', time: 1700000000000 });

/** A client that connects and never speaks; it notices when the server closes it. */
function silentClient(path: string): net.Socket {
  const socket = net.connect(path);
  socket.on('error', () => socket.destroy());
  socket.resume();
  return socket;
}

describe('the instrumentation socket under bad clients', { skip: !unix && 'unix sockets' }, () => {
  const sockets: net.Socket[] = [];
  after(() => {
    for (const socket of sockets) socket.destroy();
  });

  it('a flood of connections with forged tokens is told once, then summed up in one warning; good clients go on', async () => {
    const { server, recorded } = recordingServer({ rejectionSpellMs: 1000 });
    try {
      const env = server.register('launch');
      const forged = line({ t: 'hello', token: 'f'.repeat(32), pid: 1, v: 1 });
      await Promise.all(Array.from({ length: 200 }, () => rawClient(env.PROCSCOPE_SOCKET, forged)));
      await rawClient(env.PROCSCOPE_SOCKET, line({ t: 'hello', token: env.PROCSCOPE_TOKEN, pid: 500, v: 1 }) + start(501, 500));
      assert.ok(recorded.starts.some((s) => s.pid === 501), 'the good client was heard');
      await waitFor(() => recorded.warnings.some((w) => /more rejected connections/.test(w)), 10_000, 'the summary warning');
      assert.equal(recorded.warnings.length, 2, recorded.warnings.join('\n'));
      assert.match(recorded.warnings[0], /unknown token; connection closed/);
      assert.match(recorded.warnings[1], /^199 more rejected connections in the last 1 s \(the last: .*unknown token/);
    } finally {
      server.dispose();
    }
  });

  it('silent clients filling the connection cap never keep out a client with a valid token', async () => {
    // A hello timeout far longer than the test: only making room for the newcomer lets it in.
    const { server, recorded } = recordingServer({ maxConnections: 10, helloTimeoutMs: 60_000, rejectionSpellMs: 60_000 });
    try {
      const env = server.register('launch');
      for (let i = 0; i < 10; i++) sockets.push(silentClient(env.PROCSCOPE_SOCKET));
      await waitFor(() => server.connectionCount === 10, 10_000, 'ten silent connections accepted');
      await rawClient(env.PROCSCOPE_SOCKET, line({ t: 'hello', token: env.PROCSCOPE_TOKEN, pid: 600, v: 1 }) + start(601, 600));
      assert.ok(recorded.starts.some((s) => s.pid === 601), `the valid client was starved: ${recorded.warnings.join('\n')}`);
      assert.equal(recorded.warnings.length, 1, 'one warning for the silent client that made room');
      assert.match(recorded.warnings[0], /a connection before its hello: no hello while others waited/);
    } finally {
      server.dispose();
    }
  });

  it('at most maxUnauthenticated silent connections are kept open, however many come', async () => {
    const { server } = recordingServer({ maxUnauthenticated: 8, helloTimeoutMs: 60_000, rejectionSpellMs: 60_000 });
    try {
      const env = server.register('launch');
      for (let i = 0; i < 40; i++) sockets.push(silentClient(env.PROCSCOPE_SOCKET));
      await waitFor(() => sockets.slice(-40).filter((s) => s.destroyed || s.readableEnded).length >= 32, 10_000, '32 of 40 silent clients closed by the server');
      assert.ok(server.connectionCount <= 8, `${server.connectionCount} connections open`);
    } finally {
      server.dispose();
    }
  });
});
