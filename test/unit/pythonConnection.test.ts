// The helper's connections as the listener sees them on the wire: children that multiprocessing forks speak on their
// parent's connection (one connection for a whole fork tree), and lines of processes sharing one never interleave.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pythonEnv } from '../../src/core/instrument';
import { HELPER_DIR, bareEnv, pythonMissing, runPython } from './instrumentHarness';

const missing = pythonMissing();

interface Wire {
  /** Each connection's lines, parsed; a line that is not one whole JSON object is kept as its text. */
  connections: Array<Array<Record<string, unknown> | string>>;
}

/** A bare listener: takes every connection and keeps every line, so what the helper writes is seen as it is. */
function listen(path: string): Promise<{ wire: Wire; server: net.Server; settled: () => Promise<void> }> {
  const wire: Wire = { connections: [] };
  const open = new Set<net.Socket>();
  let onSettled: (() => void) | undefined;
  const server = net.createServer((socket) => {
    const lines: Array<Record<string, unknown> | string> = [];
    wire.connections.push(lines);
    open.add(socket);
    let rest = '';
    socket.setEncoding('ascii');
    socket.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) {
        try {
          const value: unknown = JSON.parse(part);
          lines.push(typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : part);
        } catch {
          lines.push(part);
        }
      }
    });
    socket.on('close', () => {
      if (rest !== '') lines.push(rest);
      open.delete(socket);
      if (open.size === 0) onSettled?.();
    });
  });
  return new Promise((resolveListen) => server.listen(path, () => resolveListen({
    wire,
    server,
    // every connection made so far has been closed by its processes, and read to its end
    settled: () => (open.size === 0 ? Promise.resolve() : new Promise<void>((done) => (onSettled = done))),
  })));
}

describe('the helper\'s connections, on the wire', { skip: missing }, () => {
  let directory: string;
  before(() => (directory = mkdtempSync(join(tmpdir(), 'procscope-wire-'))));
  after(() => rmSync(directory, { recursive: true, force: true }));

  async function run(name: string, args: string[], level: number) {
    const path = join(directory, `${name}.sock`);
    const { wire, server, settled } = await listen(path);
    try {
      const env = pythonEnv(HELPER_DIR, { PROCSCOPE_SOCKET: path, PROCSCOPE_TOKEN: 'token' }, level, bareEnv());
      const result = await runPython(args, env);
      assert.equal(result.code, 0, result.stderr);
      await settled();
      const malformed = wire.connections.flat().filter((l) => typeof l === 'string');
      assert.deepEqual(malformed, [], 'every line one whole JSON object');
      const hellos = wire.connections.map((lines) => lines[0] as Record<string, unknown>);
      assert.ok(hellos.every((h) => h.t === 'hello' && h.token === 'token'), 'each connection opens with a hello');
      return { result, wire, hellos, lines: wire.connections.flat() as Array<Record<string, unknown>> };
    } finally {
      server.close();
    }
  }

  it('children forked by multiprocessing speak on their parent\'s connection: one for the whole program', async () => {
    const { result, wire, hellos, lines } = await run('fork', ['fifty.py', 'fork', '20'], 20);
    assert.equal(wire.connections.length, 1, `connections: ${wire.connections.length}`);
    assert.equal(hellos[0].pid, result.pid);
    const starts = lines.filter((l) => l.t === 'start');
    assert.equal(starts.length, 20);
    const children = new Set(starts.map((s) => s.pid));
    // Each child's own records come over the same connection, naming the child.
    const runRecords = lines.filter((l) => l.t === 'log' && l.msg === 'child process calling self.run()');
    assert.deepEqual(new Set(runRecords.map((l) => l.pid)), children);
    assert.equal(lines.filter((l) => l.t === 'exit').length, 20);
  });

  it('children started by spawn connect on their own', async () => {
    const { wire, hellos } = await run('spawn', ['fifty.py', 'spawn', '3'], 20);
    assert.equal(wire.connections.length, 4, `connections: ${wire.connections.length}`);
    assert.equal(new Set(hellos.map((h) => h.pid)).size, 4);
  });

  it('sends a long queue in whole lines, at most 32 KB a send (no send another process\'s could split)', async () => {
    const { result, lines } = await run('pieces', ['sendPieces.py'], 10);
    const sends = JSON.parse(result.stdout) as Array<[number, boolean]>;
    assert.ok(sends.length >= 4, `sends: ${JSON.stringify(sends)}`);
    for (const [bytes, whole] of sends) {
      assert.ok(bytes <= 32 * 1024, `a send of ${bytes} bytes`);
      assert.ok(whole, 'a send ends a line');
    }
    const pieces = lines.filter((l) => l.t === 'log' && String(l.msg).startsWith('piece ')).map((l) => Number(String(l.msg).split(' ')[1]));
    assert.deepEqual(pieces, Array.from({ length: 120 }, (_, i) => i));
  });

  it('lines of a parent and its fork children, all sending long batches at once, never interleave and none is lost', async () => {
    const children = 6;
    const records = 300;
    const { wire, lines } = await run('batches', ['sharedConnection.py', 'fork', String(children), String(records), '3000'], 10);
    assert.equal(wire.connections.length, 1);
    const seen = new Map<string, number>();
    for (const l of lines) {
      const match = l.t === 'log' ? /^(parent|child \d+) record (\d+) ([xy]+)$/.exec(String(l.msg)) : null;
      if (match === null) continue;
      assert.equal(match[3].length, 3000);
      const key = `${match[1]} ${match[2]}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    assert.equal(seen.size, (children + 1) * records);
    assert.ok([...seen.values()].every((count) => count === 1));
  });
});
