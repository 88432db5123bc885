import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputBuffer, STDERR, STDOUT } from '../../src/core/output/outputBuffer';

const b = (s: string) => Buffer.from(s);

describe('OutputBuffer', () => {
  it('keeps lines whole when a chunk ends mid-line', () => {
    const buffer = new OutputBuffer(1024);
    assert.equal(buffer.append(STDOUT, b('hel')), undefined);
    assert.equal(buffer.append(STDOUT, b('lo\nwor'))?.toString(), 'hello\n');
    assert.equal(buffer.text(), 'hello\n');
    buffer.append(STDOUT, b('ld\n'));
    assert.equal(buffer.text(), 'hello\nworld\n');
  });
  it('never tears a stdout line with a stderr line', () => {
    const buffer = new OutputBuffer(1024);
    buffer.append(STDOUT, b('out-a'));
    buffer.append(STDERR, b('err-1\n'));
    buffer.append(STDOUT, b('ut-b\n'));
    assert.equal(buffer.text(), 'err-1\nout-aut-b\n');
    assert.deepEqual([...buffer.lines()].map((s) => [s.stream, s.data.toString()]), [[STDERR, 'err-1\n'], [STDOUT, 'out-aut-b\n']]);
  });
  it('keeps an unterminated last line when the stream ends', () => {
    const buffer = new OutputBuffer(1024);
    buffer.append(STDOUT, b('a\npartial'));
    buffer.end(STDOUT);
    assert.equal(buffer.text(), 'a\npartial\n');
  });
  it('drops the oldest lines past the cap and still starts on a line', () => {
    const buffer = new OutputBuffer(20);
    for (let i = 0; i < 10; i++) buffer.append(STDOUT, b(`line ${i}\n`));
    assert.ok(buffer.size <= 20, `size ${buffer.size}`);
    assert.equal(buffer.text(), 'line 8\nline 9\n');
    assert.equal(buffer.totalBytes, 70);
  });
  it('cuts a line that never ends at maxLineBytes', () => {
    const buffer = new OutputBuffer(1000, 10);
    buffer.append(STDOUT, b('abcdefgh'));
    buffer.append(STDOUT, b('ijkl'));
    assert.equal(buffer.text(), 'abcdefghijkl\n');
  });
  it('stays within its cap under a long flood of large chunks', () => {
    const buffer = new OutputBuffer(256 * 1024);
    const chunk = b('0123456789abcdef\n'.repeat(4000));
    for (let i = 0; i < 2000; i++) buffer.append(i % 2 ? STDOUT : STDERR, chunk);
    assert.ok(buffer.size <= 256 * 1024);
    assert.match(buffer.text(), /^0123456789abcdef\n/);
  });
  it('keeps the newest whole lines, in order and by stream, as the ring wraps many times', () => {
    const buffer = new OutputBuffer(100);
    const kept: [number, string][] = [];
    for (let i = 0; i < 500; i++) {
      const stream = i % 3 === 0 ? STDERR : STDOUT;
      const line = `${stream ? 'err' : 'out'} ${i} ${'x'.repeat(i % 17)}\n`;
      buffer.append(stream, b(line));
      kept.push([stream, line]);
      let size = kept.reduce((n, [, l]) => n + l.length, 0);
      while (size > 100) size -= (kept.shift() as [number, string])[1].length;
      assert.equal(buffer.text(), kept.map(([, l]) => l).join(''));
    }
    const segments = [...buffer.lines()].map((s) => [s.stream, s.data.toString()]);
    const runs: [number, string][] = [];
    for (const [stream, line] of kept) {
      const last = runs[runs.length - 1];
      if (last && last[0] === stream) last[1] += line;
      else runs.push([stream, line]);
    }
    assert.deepEqual(segments, runs);
  });
  it('hands out lines that later output does not change', () => {
    const buffer = new OutputBuffer(16);
    const first = buffer.append(STDOUT, b('aaaa\nbb'));
    const second = buffer.append(STDOUT, b('bb\n'));
    const segment = [...buffer.lines()][0].data;
    for (let i = 0; i < 20; i++) buffer.append(STDOUT, b('zzzzzzz\n'));
    assert.equal(first?.toString(), 'aaaa\n');
    assert.equal(second?.toString(), 'bbbb\n');
    assert.equal(segment.toString(), 'aaaa\nbbbb\n');
  });
  it('keeps only the last lines of one chunk larger than the cap', () => {
    const buffer = new OutputBuffer(10);
    buffer.append(STDOUT, b('old\n'));
    buffer.append(STDERR, b('1234\n5678\nabcd\n'));
    assert.equal(buffer.text(), '5678\nabcd\n');
    assert.equal(buffer.droppedBytes, 9);
    assert.deepEqual([...buffer.lines()].map((s) => s.stream), [STDERR]);
  });
  it('packs many small writes into few segments', () => {
    const buffer = new OutputBuffer(1024 * 1024);
    for (let i = 0; i < 1000; i++) buffer.append(STDOUT, b(`${i}\n`));
    assert.ok([...buffer.lines()].length < 5);
    assert.equal(buffer.text().split('\n')[999], '999');
  });
});
