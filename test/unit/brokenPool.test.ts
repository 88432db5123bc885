// findBrokenPoolLinks: which lines of an output are a BrokenProcessPool, and which dead worker each one is linked to.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findBrokenPoolLinks } from '../../src/core/brokenPool';
import { newRow } from '../../src/core/model/row';

const worker = (id: string, pid: number, exitCode: number, endedAt: number) =>
  newRow({ id, name: `SpawnProcess-${pid}`, kind: 'python', rootId: 'p1', startedAt: 0, role: 'pool-worker', alive: false, pid, exitCode, endedAt });

describe('findBrokenPoolLinks', () => {
  const text = [
    'broken: A process in the process pool was terminated abruptly while the future was running or pending.',
    'Traceback (most recent call last):',
    '  File "/a/b.py", line 17, in <module>',
    'concurrent.futures.process.BrokenProcessPool: A process in the process pool was terminated abruptly',
    'BrokenProcessPool: again',
  ].join('\n');

  it('links each exception line, in order, to the workers that died, and not workers shut down (0) or terminated (-15)', () => {
    const rows = [worker('p4', 40, -15, 1), worker('p3', 30, 0, 2), worker('p6', 60, -9, 9), worker('p5', 50, 3, 5)];
    const links = findBrokenPoolLinks(text, rows);
    assert.deepEqual(links.map((l) => [l.line, l.start, l.end, l.worker.id]), [[3, 0, 44, 'p5'], [4, 0, 17, 'p6']]);
    assert.equal(links[1].tooltip, 'Caused by pool worker SpawnProcess-60 (pid 60), which exited with exitcode -9 (SIGKILL): reveal its row');
  });

  it('links nothing when no pool worker died', () => {
    assert.deepEqual(findBrokenPoolLinks(text, [worker('p3', 30, 0, 2)]), []);
  });
});
