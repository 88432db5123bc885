// Phase 2 of the reload test (see index.ts), in the window's next extension host: the daemon is gone, the others are
// back with the same ids, names and pids, their output and children, and they can be ended.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { api, isRunning, waitFor } from './helpers';
import { RELOAD_STATE, type BeforeReload } from './reloadState';

describe('After a window reload', () => {
  it('the daemon was terminated; the other processes are re-adopted with their ids, pids, output and children', async () => {
    const before = JSON.parse(fs.readFileSync(RELOAD_STATE, 'utf8')) as BeforeReload;
    const procscope = await api();
    // activate() resolves once the supervisor's state is in: no waiting needed here.
    const daemon = procscope.get(before.daemon.id);
    assert.equal(daemon?.name, 'reload-daemon');
    assert.equal(daemon?.alive, false);
    assert.equal(daemon?.exitCode, -15);
    assert.ok(!isRunning(before.daemon.pid), 'the daemon process is gone');
    for (const p of [before.tree, before.python, ...before.below]) {
      const now = procscope.get(p.id);
      assert.ok(now, `${p.name} (${p.id}) is not listed after the reload`);
      assert.deepEqual([now.name, now.pid, now.alive, now.parentId, now.kind], [p.name, p.pid, true, p.parentId, p.kind]);
    }
    assert.ok(procscope.output(before.tree.id).includes('before the reload'));
    assert.ok(procscope.output(before.python.id).includes('started'));
    assert.ok(procscope.logLines().some((l) => /\[INFO\/MainProcess\] re-adopted 2 processes \(\d+ with their descendants\) from supervisor pid \d+/.test(l)), procscope.logLines().slice(-20).join('\n'));
  });

  it('re-adopted processes end on terminate, their trees with them', async () => {
    const before = JSON.parse(fs.readFileSync(RELOAD_STATE, 'utf8')) as BeforeReload;
    const procscope = await api();
    for (const root of [before.tree, before.python]) {
      const ended = await procscope.terminate(root.id);
      assert.equal(ended.alive, false);
    }
    for (const p of [before.tree, before.python, ...before.below]) await waitFor(() => !isRunning(p.pid), 5000, `${p.name} (pid ${p.pid}) to be gone`);
  });
});
