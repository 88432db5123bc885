import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findTracebackFrames } from '../../src/core/traceback';

describe('findTracebackFrames', () => {
  const text = [
    'Process raises:',
    'Traceback (most recent call last):',
    '  File "/usr/lib/python3.11/multiprocessing/process.py", line 314, in _bootstrap',
    '    self.run()',
    '  File "<frozen runpy>", line 88, in _run_code',
    '  File "09_exit_codes.py", line 21, in raises',
    "    raise ValueError('something went wrong in the child')",
    'ValueError: something went wrong in the child',
  ].join('\n');

  it('finds each frame with its file made absolute and its line number', () => {
    const frames = findTracebackFrames(text, '/work/examples');
    assert.deepEqual(frames.map((f) => [f.line, f.file, f.lineNumber]), [
      [2, '/usr/lib/python3.11/multiprocessing/process.py', 314],
      [5, '/work/examples/09_exit_codes.py', 21],
    ]);
  });

  it('covers exactly the `File "…", line N` part of the line', () => {
    const [frame] = findTracebackFrames('  File "/a/b.py", line 7, in f', '/');
    assert.equal('  File "/a/b.py", line 7, in f'.slice(frame.start, frame.end), 'File "/a/b.py", line 7');
  });
});
