import * as assert from 'node:assert/strict';
import type { ProcScopeApi } from '../../../src/api';
import { api, fixture, stopEverything, waitFor, withSetting } from './helpers';

describe('Settings', () => {
  let procscope: ProcScopeApi;
  before(async () => {
    procscope = await api();
  });
  after(() => stopEverything(procscope));

  it('procscope.echoOutput echoes each line into the log, prefixed by the name, stderr marked', async () => {
    const restore = await withSetting('echoOutput', true);
    try {
      const p = await procscope.start({ command: fixture('exit-code.sh'), args: ['0'], name: 'echoed' });
      await procscope.join(p.id);
      await waitFor(() => procscope.logLines().includes('echoed ! to stderr'), 2000, 'the echoed stderr line');
      assert.ok(procscope.logLines().includes('echoed | to stdout'));
    } finally {
      await restore();
    }
    const q = await procscope.start({ command: fixture('exit-code.sh'), args: ['0'], name: 'quiet' });
    await procscope.join(q.id);
    assert.ok(!procscope.logLines().some((l) => l.startsWith('quiet |')), 'no echo once the setting is off');
  });

  it('procscope.logLevel filters records as the logger level does', async () => {
    const restore = await withSetting('logLevel', 'WARNING');
    try {
      let attempt = 0;
      await waitFor(async () => {
        const name = `probe-warning-${++attempt}`;
        const probe = await procscope.start({ command: 'true', name });
        await procscope.join(probe.id);
        return !procscope.logLines().some((l) => l.includes(`[INFO/${name}]`));
      }, 3000, 'the WARNING level to apply');
    } finally {
      await restore();
    }
    const p = await procscope.start({ command: 'true', name: 'probe-info' });
    await procscope.join(p.id);
    await waitFor(() => procscope.logLines().some((l) => l.includes('[INFO/probe-info] process started')), 2000, 'INFO records again');
  });

  it('procscope.outputBufferKb bounds what is kept per process', async () => {
    const restore = await withSetting('outputBufferKb', 16);
    try {
      const p = await procscope.start({ command: 'node', args: [fixture('flood.js'), '50000'] });
      await procscope.join(p.id);
      const text = procscope.output(p.id);
      assert.ok(text.length <= 16 * 1024, `kept ${text.length} bytes`);
      assert.match(text, /out 49999 x*\n$/);
    } finally {
      await restore();
    }
  });
});
