// Phase 1 of the reload test (see index.ts): a daemon, a non-daemon with children and a Python program with
// multiprocessing children are running when the window reloads; what they were is written down for phase 2.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { ProcessSnapshot } from '../../../src/core/types';
import { api, descendantsOf, fixture, waitFor } from './helpers';
import { RELOAD_STATE, type BeforeReload } from './reloadState';


describe('Before a window reload', () => {
  it('a daemon, a non-daemon tree and a Python program with children are running, with output', async () => {
    const procscope = await api();
    const daemon = await procscope.start({ command: 'sleep', args: ['300'], name: 'reload-daemon', daemon: true });
    const tree = await procscope.start({ command: 'bash', args: ['-c', 'echo before the reload; sleep 300 & sleep 300 & wait'], name: 'reload-tree' });
    const python = await procscope.start({ command: 'python3', args: [fixture('python/long_children.py')], name: 'reload-python' });
    await waitFor(() => descendantsOf(procscope, tree.id).filter((p) => p.alive).length === 2, 20_000, 'the tree\'s two children');
    await waitFor(() => descendantsOf(procscope, python.id).filter((p) => p.kind === 'python' && p.alive).length === 2, 20_000, 'the two multiprocessing children');
    await waitFor(() => procscope.output(python.id).includes('started'), 10_000, 'the program\'s output');
    assert.ok(procscope.output(tree.id).includes('before the reload'));
    const below = [...descendantsOf(procscope, tree.id), ...descendantsOf(procscope, python.id)];
    const state: BeforeReload = { daemon: procscope.get(daemon.id) as ProcessSnapshot, tree: procscope.get(tree.id) as ProcessSnapshot, python: procscope.get(python.id) as ProcessSnapshot, below };
    fs.writeFileSync(RELOAD_STATE, JSON.stringify(state));
  });
});
