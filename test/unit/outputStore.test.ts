import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from '../shared/wait';
import { heldOutputBytes, NOTE, OutputWriter, outputText, readOutput, removeOutput, STDERR, STDOUT } from '../../src/core/output/outputStore';

const b = (s: string) => Buffer.from(s);
const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
let count = 0;

/** A writer in a fresh directory, and a reader of what it wrote. */
function store(maxBytes: number, maxLineBytes?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'procscope-store-'));
  dirs.push(dir);
  const id = `p${++count}`;
  const writer = new OutputWriter(dir, id, maxBytes, maxLineBytes);
  return { dir, id, writer, read: () => readOutput(dir, id, maxBytes), text: () => outputText(readOutput(dir, id, maxBytes)) };
}

describe('the output store', () => {
  it('keeps lines whole when a chunk ends mid-line', () => {
    const s = store(1024);
    assert.equal(s.writer.append(STDOUT, b('hel')), undefined);
    assert.equal(s.writer.append(STDOUT, b('lo\nwor'))?.toString(), 'hello\n');
    assert.equal(s.text(), 'hello\n');
    s.writer.append(STDOUT, b('ld\n'));
    assert.equal(s.text(), 'hello\nworld\n');
  });

  it('never tears a stdout line with a stderr line', () => {
    const s = store(1024);
    s.writer.append(STDOUT, b('out-a'));
    s.writer.append(STDERR, b('err-1\n'));
    s.writer.append(STDOUT, b('ut-b\n'));
    assert.equal(s.text(), 'err-1\nout-aut-b\n');
    assert.deepEqual(s.read().segments.map((seg) => [seg.stream, seg.data.toString()]), [[STDERR, 'err-1\n'], [STDOUT, 'out-aut-b\n']]);
  });

  it('keeps an unterminated last line when the stream ends or the writer closes', () => {
    const s = store(1024);
    s.writer.append(STDOUT, b('a\npartial'));
    s.writer.append(STDERR, b('half'));
    s.writer.end(STDOUT);
    assert.equal(s.text(), 'a\npartial\n');
    s.writer.close();
    assert.equal(s.text(), 'a\npartial\nhalf\n');
  });

  it('drops the oldest lines past the cap and still starts on a line', () => {
    const s = store(20);
    for (let i = 0; i < 10; i++) s.writer.append(STDOUT, b(`line ${i}\n`));
    assert.equal(s.text(), 'line 8\nline 9\n');
    assert.equal(s.read().totalBytes, 70);
    assert.equal(s.read().droppedBytes, 56);
  });

  it('cuts a line that never ends at maxLineBytes', () => {
    const s = store(1000, 10);
    s.writer.append(STDOUT, b('abcdefgh'));
    s.writer.append(STDOUT, b('ijkl'));
    assert.equal(s.text(), 'abcdefghijkl\n');
  });

  it('stays within its cap on disk and in what it returns under a long flood of large chunks', () => {
    const s = store(256 * 1024);
    const chunk = b('0123456789abcdef\n'.repeat(4000));
    for (let i = 0; i < 2000; i++) s.writer.append(i % 2 ? STDOUT : STDERR, chunk);
    const text = s.text();
    assert.ok(text.length <= 256 * 1024, `returned ${text.length} bytes`);
    assert.ok(text.length > 128 * 1024, `returned only ${text.length} bytes`);
    assert.match(text, /^0123456789abcdef\n/);
    const onDisk = readdirSync(s.dir).reduce((n, f) => n + statSync(join(s.dir, f)).size, 0);
    assert.ok(onDisk <= 2 * 256 * 1024 + 64 * 1024, `${onDisk} bytes on disk`);
  });

  it('keeps the newest whole lines, in order and by stream, across many generations', () => {
    const s = store(100);
    const kept: [number, string][] = [];
    for (let i = 0; i < 500; i++) {
      const stream = i % 3 === 0 ? STDERR : STDOUT;
      const line = `${stream ? 'err' : 'out'} ${i} ${'x'.repeat(i % 17)}\n`;
      s.writer.append(stream, b(line));
      kept.push([stream, line]);
      let size = kept.reduce((n, [, l]) => n + l.length, 0);
      while (size > 100) size -= (kept.shift() as [number, string])[1].length;
      assert.equal(s.text(), kept.map(([, l]) => l).join(''));
    }
    const runs: [number, string][] = [];
    for (const [stream, line] of kept) {
      const last = runs[runs.length - 1];
      if (last && last[0] === stream) last[1] += line;
      else runs.push([stream, line]);
    }
    assert.deepEqual(s.read().segments.map((seg) => [seg.stream, seg.data.toString()]), runs);
  });

  it('keeps only the last lines of one chunk larger than the cap', () => {
    const s = store(10);
    s.writer.append(STDOUT, b('old\n'));
    s.writer.append(STDERR, b('1234\n5678\nabcd\n'));
    assert.equal(s.text(), '5678\nabcd\n');
    assert.equal(s.read().droppedBytes, 9);
    assert.deepEqual(s.read().segments.map((seg) => seg.stream), [STDERR]);
  });

  it('packs many small writes into few segments', () => {
    const s = store(1024 * 1024);
    for (let i = 0; i < 1000; i++) s.writer.append(STDOUT, b(`${i}\n`));
    assert.equal(s.read().segments.length, 1);
    assert.equal(s.text().split('\n')[999], '999');
  });

  it('writes notes of its own between runs, and goes on after a close (a restart)', () => {
    const s = store(1024);
    s.writer.append(STDOUT, b('run 1\n'));
    s.writer.close();
    s.writer.note('── restarted (exitcode 1), run 2 ──');
    s.writer.append(STDOUT, b('run 2\n'));
    assert.equal(s.text(), 'run 1\n── restarted (exitcode 1), run 2 ──\nrun 2\n');
    assert.deepEqual(s.read().segments.map((seg) => seg.stream), [STDOUT, NOTE, STDOUT]);
  });

  it('held (as in the supervisor), a flood reads back exactly as if every line had been written, with far less written', async () => {
    const plain = store(64 * 1024);
    const dir = mkdtempSync(join(tmpdir(), 'procscope-store-'));
    dirs.push(dir);
    const held = new OutputWriter(dir, 'held', 64 * 1024, undefined, 20);
    // As the supervisor reads: every chunk in the same buffer, overwritten by the next read (here: scribbled over).
    const reused = Buffer.alloc(8 * 1024);
    let written = 0;
    let wasHeld = false;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 300; i++) {
        const stream = i % 7 === 0 ? STDERR : STDOUT;
        // Chunks that end mid-line, of varying sizes.
        const chunk = b(`${'x'.repeat(i % 50)}\n${round}:${i} ${'y'.repeat((i * 37) % 3000)}\nrest of ${i}`);
        plain.writer.append(stream, chunk);
        const view = reused.subarray(0, chunk.copy(reused));
        held.append(stream, view);
        reused.fill('#');
        wasHeld ||= heldOutputBytes() > 0;
        written += chunk.length;
      }
      // Past the end of the turn (the timers' clock is the turn's) and past the hold.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.deepEqual(readOutput(dir, 'held', 64 * 1024), plain.read(), `after round ${round}`);
    }
    plain.writer.close();
    held.close();
    const expected = plain.read();
    assert.ok(wasHeld, 'the flood was held');
    assert.deepEqual(readOutput(dir, 'held', 64 * 1024), expected);
    assert.ok(expected.droppedBytes > 0 && expected.totalBytes > written - 100);
    const onDisk = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    assert.ok(onDisk <= 2 * 64 * 1024 + 8 * 1024, `${onDisk} bytes on disk`);
    assert.equal(heldOutputBytes(), 0, 'the hold buffer is let go with the writer');
  });

  it('held, a few lines are written at once; a flood waits for the hold, flush() or close()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'procscope-store-'));
    dirs.push(dir);
    const held = new OutputWriter(dir, 'held', 4096, undefined, 60_000);
    held.append(STDOUT, b('one\n'));
    assert.equal(outputText(readOutput(dir, 'held', 4096)), 'one\n');
    held.append(STDERR, b('two\nthr'));
    assert.equal(outputText(readOutput(dir, 'held', 4096)), 'one\ntwo\n');
    // 64 KB in one turn is a flood: what follows it in the turn is held (here for a minute).
    const line = `${'z'.repeat(1023)}\n`;
    held.append(STDOUT, b(line.repeat(64)));
    held.append(STDOUT, b('after the flood\n'));
    assert.ok(!outputText(readOutput(dir, 'held', 4096)).endsWith('after the flood\n'), 'held');
    held.flush();
    assert.ok(outputText(readOutput(dir, 'held', 4096)).endsWith(`${line}after the flood\n`));
    held.append(STDOUT, b(line.repeat(64)));
    held.append(STDOUT, b('the last line\n'));
    held.close();
    assert.ok(outputText(readOutput(dir, 'held', 4096)).endsWith(`${line}the last line\nthr\n`));
  });

  it('held, a flood that ends in the turn it was seen in lets its hold buffer go once the hold is over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'procscope-store-'));
    dirs.push(dir);
    const held = new OutputWriter(dir, 'quiet', 1024 * 1024, undefined, 20);
    held.append(STDOUT, b(`${'q'.repeat(99)}\n`.repeat(700))); // 70 KB in one read, then nothing
    assert.ok(heldOutputBytes() > 0, 'a hold began');
    await waitFor(() => heldOutputBytes() === 0, 5000, 'the hold buffer let go');
    assert.equal(outputText(readOutput(dir, 'quiet', 1024 * 1024)).length, 70_000);
    held.close();
  });

  it('held floods of many writers at once: their hold buffers together stay within 8 MB, the rest is written at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'procscope-store-'));
    dirs.push(dir);
    const cap = 1024 * 1024;
    const writers = Array.from({ length: 20 }, (_, i) => new OutputWriter(dir, `w${i}`, cap, undefined, 60_000));
    const chunk = b(`${'f'.repeat(99)}\n`.repeat(640)); // 64 000 bytes, as a pipe read
    let peak = 0;
    for (let read = 0; read < 40; read++) {
      for (const [i, writer] of writers.entries()) {
        writer.append(STDOUT, b(`w${i} read ${read}\n`));
        writer.append(STDOUT, chunk);
        peak = Math.max(peak, heldOutputBytes());
      }
    }
    assert.ok(peak > 0 && peak <= 8 * 1024 * 1024, `${peak} bytes held at most`);
    for (const [i, writer] of writers.entries()) {
      writer.flush();
      const text = outputText(readOutput(dir, `w${i}`, cap));
      assert.ok(text.endsWith(`w${i} read 39\n${chunk.toString()}`), `writer ${i} has its last lines`);
      assert.ok(text.length <= cap);
    }
    // Held buffers no flood holds are let go at the end of the turn.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(heldOutputBytes(), 0);
    for (const writer of writers) writer.close();
  });

  it('reads nothing for a process without output, and nothing once its files are removed', () => {
    const s = store(1024);
    assert.deepEqual(s.read(), { segments: [], droppedBytes: 0, totalBytes: 0 });
    assert.equal(s.writer.hasFiles, false, 'no files before the first line');
    s.writer.append(STDOUT, b('x\n'));
    s.writer.close();
    assert.equal(s.writer.hasFiles, true);
    assert.ok(readdirSync(s.dir).length > 0);
    removeOutput(s.dir, s.id);
    assert.equal(s.text(), '');
    assert.deepEqual(readdirSync(s.dir), [], 'every file removed');
    removeOutput(s.dir, s.id); // removing again, or what never was, is no error
  });
});
