import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { readPipe } from '../../src/core/supervisor/pipeReader';
import { isRunning, waitFor } from './helpers';

/** Reads a child's stdout with readPipe, keeping copies of what it hands out and the buffers it hands it out in. */
function read(stream: Socket) {
  const got = { chunks: [] as Buffer[], buffers: new Set<ArrayBufferLike>(), ends: 0, closed: false };
  const closed = readPipe(stream, {
    data(chunk) {
      got.buffers.add(chunk.buffer);
      got.chunks.push(Buffer.from(chunk));
    },
    end: () => got.ends++,
  }).then(() => (got.closed = true));
  return { got, closed, text: () => Buffer.concat(got.chunks).toString() };
}

describe('reading a child pipe into one reused buffer', () => {
  it('hands out every byte in the same buffer, then the end', async () => {
    // 400 KB in writes of varied sizes, the last line without its newline.
    const script = "let s = ''; for (let i = 0; i < 4000; i++) s += `line ${i} ${'x'.repeat(i % 150)}\\n`; process.stdout.write(s.slice(0, 200000)); setImmediate(() => process.stdout.write(s.slice(200000) + 'unterminated'));";
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    await once(child, 'spawn');
    const reading = read(child.stdout as Socket);
    await reading.closed;
    let expected = '';
    for (let i = 0; i < 4000; i++) expected += `line ${i} ${'x'.repeat(i % 150)}\n`;
    assert.equal(reading.text(), `${expected}unterminated`);
    assert.equal(reading.got.ends, 1);
    assert.ok(reading.got.chunks.length > 1, `${reading.got.chunks.length} reads`);
    // Node's own reads would give a new buffer a read.
    assert.equal(reading.got.buffers.size, 1, 'one buffer for every read');
  });

  it('a pipe that never carries a byte ends once', async () => {
    const child = spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'ignore'] });
    await once(child, 'spawn');
    const reading = read(child.stdout as Socket);
    await reading.closed;
    assert.equal(reading.got.ends, 1);
    assert.equal(reading.text(), '');
  });

  it('several pipes share the one buffer, each read handed out before the next', async () => {
    const children = [0, 1, 2].map((n) => spawn('sh', ['-c', `for i in $(seq 1 2000); do echo "child ${n} line $i"; done`], { stdio: ['ignore', 'pipe', 'ignore'] }));
    await Promise.all(children.map((child) => once(child, 'spawn')));
    const readings = children.map((child) => read(child.stdout as Socket));
    await Promise.all(readings.map((r) => r.closed));
    for (const [n, reading] of readings.entries()) {
      assert.equal(reading.text(), Array.from({ length: 2000 }, (_, i) => `child ${n} line ${i + 1}\n`).join(''));
    }
    assert.equal(new Set(readings.flatMap((r) => [...r.got.buffers])).size, 1);
  });

  it('ends only when every process holding the pipe has let it go', async () => {
    // The shell exits at once; the sleep it leaves behind holds the pipe open.
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    await once(child, 'spawn');
    const reading = read(child.stdout as Socket);
    await once(child, 'exit');
    await waitFor(() => /^\d+\n$/.test(reading.text()), 10_000, 'the pid of the sleep');
    const sleeper = Number(reading.text().trim());
    try {
      assert.ok(isRunning(sleeper));
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(reading.got.closed, false, 'open while the sleep holds it');
    } finally {
      process.kill(sleeper, 'SIGKILL');
    }
    await reading.closed;
    assert.equal(reading.got.ends, 1);
  });

  it('hands out first what the pipe\'s own socket had read before the takeover, then the rest', async () => {
    const child = spawn('sh', ['-c', 'echo early; read line; echo "late $line"'], { stdio: ['pipe', 'pipe', 'ignore'] });
    await once(child, 'spawn');
    const stdout = child.stdout as Socket;
    // Node's socket reads from its creation: wait until it holds the first line.
    await waitFor(() => stdout.readableLength > 0, 10_000, 'the first line in the socket');
    const reading = read(stdout);
    try {
      assert.equal(reading.text(), 'early\n');
    } finally {
      child.stdin?.end('line\n'); // whatever happened above, the shell must not wait for its line forever
    }
    await reading.closed;
    assert.equal(reading.text(), 'early\nlate line\n');
    assert.equal(reading.got.ends, 1);
  });
});
