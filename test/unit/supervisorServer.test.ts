import assert from 'node:assert/strict';
import * as net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SupervisorClient } from '../../src/core/host/supervisorClient';
import type { ProcessEvent } from '../../src/core/model/events';
import { SupervisorServer } from '../../src/core/supervisor/server';
import type { ProcessSnapshot } from '../../src/core/types';
import { cleanUpAll, isRunning, makeSupervisor, tempDir, waitFor } from './helpers';

after(cleanUpAll);

const TOKEN = 'a'.repeat(48);

/** A supervisor with its socket server, in this process; `exits` collects why it finished. */
async function serve(settings = {}) {
  const supervisor = makeSupervisor({}, settings);
  const socketPath = join(tempDir(), 'sock');
  const exits: string[] = [];
  const diagnostics: string[] = [];
  const server = new SupervisorServer(supervisor, {
    socketPath, token: TOKEN, helloTimeoutMs: 300, onExit: (reason) => exits.push(reason), diagnose: (m) => diagnostics.push(m),
  });
  await server.listen();
  return { supervisor, server, socketPath, exits, diagnostics };
}

/** Connects with raw bytes; resolves with what the server sent and whether it closed the connection, after `holdMs`. */
function raw(path: string, text: string | Buffer, holdMs = 2000): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    let received = '';
    let closed = false;
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => (closed = true));
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ received, closed });
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received, closed });
    }, holdMs);
  });
}

async function attach(socketPath: string) {
  const result = await SupervisorClient.connect(socketPath, TOKEN);
  if ('refused' in result) throw new Error(`refused: ${result.detail}`);
  const events: ProcessEvent[] = [];
  result.client.open({ event: (e) => events.push(e), output: () => undefined });
  return { client: result.client, welcome: result.welcome, events };
}

describe('the supervisor socket', () => {
  it('refuses a wrong token, garbage, an overlong line and a client that never speaks, and stays up', async () => {
    const { server, socketPath, diagnostics } = await serve();
    const wrong = await SupervisorClient.connect(socketPath, 'b'.repeat(48));
    assert.ok('refused' in wrong && wrong.refused === 'token');
    const garbage = await raw(socketPath, Buffer.from([0xff, 0x00, 0x13, 0x0a]));
    assert.match(garbage.received, /"refused"/);
    assert.ok(garbage.closed);
    const long = await raw(socketPath, 'x'.repeat(10_000));
    assert.match(long.received, /"reason":"hello"/);
    const silent = await raw(socketPath, '', 3000);
    assert.ok(silent.closed, 'a silent client is dropped');
    assert.ok(diagnostics.some((d) => /no hello within/.test(d)));
    const good = await attach(socketPath);
    assert.equal(good.welcome.adopted, 0);
    good.client.close();
    server.close();
  });

  it('takes one host at a time: a second window is told the supervisor is busy', async () => {
    const { server, socketPath } = await serve();
    const first = await attach(socketPath);
    const second = await SupervisorClient.connect(socketPath, TOKEN);
    assert.ok('refused' in second && second.refused === 'busy');
    assert.equal(await first.client.request('ping'), 'pong');
    first.client.close();
    server.close();
  });

  it('drops a malformed request, answers a bad one with an error, and goes on serving', async () => {
    const { server, socketPath, diagnostics } = await serve();
    const host = await attach(socketPath);
    (host.client as unknown as { socket: net.Socket }).socket.write('{"t":"req","rid":"x","op":"start"}\n{nope\n');
    await assert.rejects(host.client.request('terminate', { id: 'p1', signal: 'SIGSTOP' }), /unknown signal/);
    await assert.rejects(host.client.request('start', { request: { spec: { command: '' }, cwd: '/' } }), /non-empty string/);
    assert.equal(await host.client.request('ping'), 'pong');
    await waitFor(() => diagnostics.some((d) => /bad request dropped/.test(d)), 2000, 'the dropped line noted');
    host.client.close();
    server.close();
  });

  it('sends the state first, then every event, with replies after the events they caused', async () => {
    const { server, socketPath } = await serve();
    const host = await attach(socketPath);
    await waitFor(() => host.events.length > 0, 2000, 'the snapshot');
    assert.equal(host.events[0].type, 'snapshot');
    const snapshot = await host.client.request<ProcessSnapshot>('start', { request: { spec: { command: 'true' }, cwd: '/' } });
    assert.ok(host.events.some((e) => e.type === 'launched' && e.id === snapshot.id), 'the launched event came before the reply');
    await waitFor(() => host.events.some((e) => e.type === 'settled' && e.id === snapshot.id), 5000, 'the settled event');
    host.client.close();
    server.close();
  });

  it('when the host goes, terminates daemons at once and keeps the rest for the next host, who gets them back', async () => {
    const { supervisor, server, socketPath, exits } = await serve({ reattachGraceMs: 5000 });
    const first = await attach(socketPath);
    const daemon = await first.client.request<ProcessSnapshot>('start', { request: { spec: { command: 'sleep', args: ['30'], daemon: true, name: 'd' }, cwd: '/' } });
    const worker = await first.client.request<ProcessSnapshot>('start', { request: { spec: { command: 'sleep', args: ['30'], name: 'w' }, cwd: '/' } });
    first.client.close();
    await waitFor(() => !isRunning(daemon.pid as number), 5000, 'the daemon to be terminated');
    assert.ok(isRunning(worker.pid as number), 'the non-daemon waits for a host');
    const second = await attach(socketPath);
    assert.equal(second.welcome.adopted, 1);
    await waitFor(() => second.events.length > 0, 2000, 'the snapshot');
    const image = second.events[0].type === 'snapshot' ? second.events[0].image : undefined;
    assert.deepEqual(image?.rows.map((r) => [r.id, r.name, r.pid, r.alive]), [[daemon.id, 'd', daemon.pid, false], [worker.id, 'w', worker.pid, true]]);
    assert.ok(second.events.some((e) => e.type === 'record' && e.message === 'calling terminate() for daemon d'), 'the records are replayed');
    await second.client.request('terminate', { id: worker.id, signal: 'SIGKILL' });
    second.client.close();
    await waitFor(() => exits.length > 0, 5000, 'the supervisor to finish');
    assert.deepEqual(exits, ['nothing left to watch']);
    assert.equal(supervisor.busy, false);
    server.close();
  });

  it('applies the exit rules when no host comes back within the grace period', async () => {
    const { server, socketPath, exits, supervisor } = await serve({ reattachGraceMs: 300, shutdownJoinTimeoutMs: 200 });
    const host = await attach(socketPath);
    const worker = await host.client.request<ProcessSnapshot>('start', { request: { spec: { command: 'sleep', args: ['30'], name: 'w' }, cwd: '/' } });
    host.client.close();
    await waitFor(() => exits.length > 0, 5000, 'the exit rules');
    assert.deepEqual(exits, ['no host came back']);
    assert.ok(!isRunning(worker.pid as number));
    const records = supervisor.state.get(worker.id);
    assert.equal(records?.exitCode, -15);
    server.close();
  });
});
