import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { liveRowCount, statusText } from '../../src/core/status';

describe('status text, as multiprocessing.Process.__repr__ derives it', () => {
  it('says initial before a pid, started while alive', () => {
    assert.equal(statusText(false, null, null), 'initial');
    assert.equal(statusText(true, null, 4242), 'started');
  });
  it('says stopped for exit code 0, as CPython prints <Process(Process-1, stopped)>', () => {
    assert.equal(statusText(false, 0, 4242), 'stopped');
  });
  it('keeps any other code in brackets, signals by name', () => {
    assert.equal(statusText(false, 1, 4242), 'stopped[1]');
    assert.equal(statusText(false, -15, 4242), 'stopped[SIGTERM]');
    assert.equal(statusText(false, -9, 4242), 'stopped[SIGKILL]');
  });
  it('says stopped when the code is not known', () => {
    assert.equal(statusText(false, null, 4242), 'stopped');
  });
});

describe('the live count the status bar shows', () => {
  type Row = { id: string; alive: boolean };
  const rowsOf = (tree: Record<string, Row[]>) => ({ children: (parentId: string | undefined) => tree[parentId ?? ''] ?? [] });

  it('counts the live rows of the view, nested ones included', () => {
    const tree = rowsOf({
      '': [{ id: 'p1', alive: true }, { id: 'p2', alive: false }],
      p1: [{ id: 'p3', alive: true }, { id: 'p4', alive: false }],
      p2: [{ id: 'p5', alive: true }],
    });
    assert.equal(liveRowCount(tree), 3);
  });
  it('does not count a live process the view does not show', () => {
    // p9 is alive but no row lists it (a launcher, a process not yet placed): the view shows one live row.
    const tree = rowsOf({ '': [{ id: 'p1', alive: true }], p9: [{ id: 'p10', alive: true }] });
    assert.equal(liveRowCount(tree), 1);
  });
  it('is 0 for an empty view', () => {
    assert.equal(liveRowCount(rowsOf({})), 0);
  });
});
